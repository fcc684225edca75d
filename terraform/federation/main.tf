# Identity Center side of trusted identity propagation: the company's IdP as trusted token issuer, a
# customer-managed application with the S3 Access Grants scope, and the departments' groups assigned
# to it (assignment required, so users outside every department cannot exchange their tokens).
#
# The application's jwt-bearer grant and IAM authentication method have no Terraform resource in
# provider 5.100: terraform/configure_application.py sets them (run by `make deploy`).

module "plan" {
  source = "../modules/access-plan"
  file   = coalesce(var.access_plan_file, "${path.module}/../access-plan.json")
}

data "aws_ssoadmin_instances" "this" {}

locals {
  instance_arn      = one(data.aws_ssoadmin_instances.this.arns)
  identity_store_id = one(data.aws_ssoadmin_instances.this.identity_store_ids)
  directory_groups  = toset([for dept in module.plan.departments : dept.directory_group])
}

resource "aws_ssoadmin_trusted_token_issuer" "idp" {
  name                      = "${var.name_prefix}-idp"
  instance_arn              = local.instance_arn
  trusted_token_issuer_type = "OIDC_JWT"

  trusted_token_issuer_configuration {
    oidc_jwt_configuration {
      issuer_url                    = var.jwt_issuer_url
      claim_attribute_path          = var.jwt_user_claim
      identity_store_attribute_path = var.identity_store_user_attribute
      jwks_retrieval_option         = "OPEN_ID_DISCOVERY"
    }
  }
}

resource "aws_ssoadmin_application" "vending" {
  name                     = "${var.name_prefix}-credential-vending"
  description              = "Credential vending for S3 Access Grants: exchanges the company's JWTs for identity-aware sessions."
  instance_arn             = local.instance_arn
  application_provider_arn = "arn:aws:sso::aws:applicationProvider/custom"
}

resource "aws_ssoadmin_application_access_scope" "access_grants" {
  application_arn = aws_ssoadmin_application.vending.application_arn
  scope           = "s3:access_grants:read_write"
}

resource "aws_ssoadmin_application_assignment_configuration" "vending" {
  application_arn     = aws_ssoadmin_application.vending.application_arn
  assignment_required = true
}

data "aws_identitystore_group" "department" {
  for_each = local.directory_groups

  identity_store_id = local.identity_store_id
  alternate_identifier {
    unique_attribute {
      attribute_path  = "DisplayName"
      attribute_value = each.value
    }
  }
}

resource "aws_ssoadmin_application_assignment" "department" {
  for_each = data.aws_identitystore_group.department

  application_arn = aws_ssoadmin_application.vending.application_arn
  principal_id    = each.value.group_id
  principal_type  = "GROUP"
}

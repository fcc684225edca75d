# S3 Access Grants from the access plan, for one region per apply: S3 Access Grants is regional, so each
# region holding buckets of the plan has its own instance, location role, locations and grants. Apply
# this root once per region, each in the Terraform workspace named after it:
#   terraform workspace select -or-create ap-southeast-2 && terraform apply -var region=ap-southeast-2
# Per region: the instance, its location role, one location per bucket of the region and one grant per
# (department, bucket, prefix) of those buckets, each scoped to "prefix/*".

module "plan" {
  source = "../modules/access-plan"
  file   = coalesce(var.access_plan_file, "${path.module}/../access-plan.json")
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  identity_center = var.identity_mode == "identity-center"
  account_id      = data.aws_caller_identity.current.account_id

  # This region's buckets: logical name (as in the plan) -> actual bucket name.
  buckets = {
    for name, region in module.plan.buckets : name => lookup(var.bucket_names, name, name) if region == var.region
  }
  grants = { for key, grant in module.plan.grants : key => grant if contains(keys(local.buckets), grant.bucket) }

  # iam-role mode: the department roles are the service-iam root's (IAM is global, one set for every
  # region); their names come from the plan, so their ARNs are known here without a lookup.
  grantees = local.identity_center ? {
    for name, dept in module.plan.departments :
    name => { type = "DIRECTORY_GROUP", identifier = lookup(var.directory_group_ids, dept.directory_group, "") }
    } : {
    for name, dept in module.plan.departments :
    name => { type = "IAM", identifier = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:role/${dept.iam_role}" }
  }
}

resource "aws_s3control_access_grants_instance" "this" {
  account_id          = local.account_id
  identity_center_arn = local.identity_center ? var.identity_center_instance_arn : null

  lifecycle {
    precondition {
      condition     = length(local.buckets) > 0
      error_message = "No bucket of the access plan is in ${var.region}: apply this root only in the regions the plan's buckets name (${join(", ", sort(tolist(module.plan.regions)))})."
    }
    precondition {
      condition     = contains(["default", var.region], terraform.workspace)
      error_message = "Apply each region in the workspace named after it (terraform workspace select -or-create ${var.region}), so that regions keep separate state."
    }
  }
}

# --- location role: what S3 Access Grants assumes to mint the scoped credentials ------------------

data "aws_iam_policy_document" "location_trust" {
  statement {
    sid     = "AccessGrantsOfThisInstanceOnly"
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"]
    principals {
      type        = "Service"
      identifiers = ["access-grants.s3.amazonaws.com"]
    }
    # Confused-deputy protection: only our account's instance may use this role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3control_access_grants_instance.this.access_grants_instance_arn]
    }
  }
}

# One location role per region: its trust names only this region's instance (confused-deputy protection
# per instance), and each regional apply owns its role, with no state shared across applies.
resource "aws_iam_role" "location" {
  name                 = "${var.name_prefix}-access-grants-location-${var.region}"
  description          = "Assumed by S3 Access Grants in ${var.region} to vend credentials for that region's registered locations."
  assume_role_policy   = data.aws_iam_policy_document.location_trust.json
  max_session_duration = 43200 # GetDataAccess may ask for up to 12 hours.
}

data "aws_iam_policy_document" "location" {
  statement {
    sid = "ObjectsInRegisteredBuckets"
    actions = [
      "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
      "s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl",
      "s3:DeleteObject", "s3:DeleteObjectVersion",
      "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    ]
    resources = [for bucket in aws_s3_bucket.data : "${bucket.arn}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "ListRegisteredBuckets"
    actions   = ["s3:ListBucket"]
    resources = [for bucket in aws_s3_bucket.data : bucket.arn]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "BucketKeyThroughS3Only"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "location" {
  name   = "registered-locations"
  role   = aws_iam_role.location.id
  policy = data.aws_iam_policy_document.location.json
}

resource "aws_s3control_access_grants_location" "bucket" {
  for_each = aws_s3_bucket.data

  account_id     = local.account_id
  iam_role_arn   = aws_iam_role.location.arn
  location_scope = "s3://${each.value.bucket}"

  depends_on = [aws_iam_role_policy.location]
}

# --- grants --------------------------------------------------------------------------------------

resource "aws_s3control_access_grant" "this" {
  for_each = local.grants

  account_id                = local.account_id
  access_grants_location_id = aws_s3control_access_grants_location.bucket[each.value.bucket].access_grants_location_id
  permission                = each.value.permission

  access_grants_location_configuration {
    # "prefix/*": the prefix and everything below it, never a sibling such as "users-archive/".
    s3_sub_prefix = "${each.value.prefix}*"
  }

  grantee {
    grantee_type       = local.grantees[each.value.department].type
    grantee_identifier = local.grantees[each.value.department].identifier
  }

  lifecycle {
    precondition {
      condition     = local.grantees[each.value.department].identifier != ""
      error_message = "No directory group id for department ${each.value.department}: add its directory_group to directory_group_ids (output of the federation root)."
    }
  }
}

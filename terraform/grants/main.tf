# S3 Access Grants from the access plan: the instance, the location role, one location per bucket and
# one grant per (department, bucket, prefix), each scoped to "prefix/*".

module "plan" {
  source = "../modules/access-plan"
  file   = coalesce(var.access_plan_file, "${path.module}/../access-plan.json")
}

data "aws_caller_identity" "current" {}

locals {
  identity_center = var.identity_mode == "identity-center"
  account_id      = data.aws_caller_identity.current.account_id

  # Logical bucket name (as in the plan) -> actual bucket name.
  buckets = { for name in module.plan.buckets : name => lookup(var.bucket_names, name, name) }

  department_roles = local.identity_center ? {} : module.plan.departments

  grantees = local.identity_center ? {
    for name, dept in module.plan.departments :
    name => { type = "DIRECTORY_GROUP", identifier = lookup(var.directory_group_ids, dept.directory_group, "") }
    } : {
    for name, role in aws_iam_role.department : name => { type = "IAM", identifier = role.arn }
  }
}

resource "aws_s3control_access_grants_instance" "this" {
  account_id          = local.account_id
  identity_center_arn = local.identity_center ? var.identity_center_instance_arn : null
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

resource "aws_iam_role" "location" {
  name                 = "${var.name_prefix}-access-grants-location"
  description          = "Assumed by S3 Access Grants to vend credentials for the registered locations."
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
  for_each = module.plan.grants

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

# --- department roles (iam-role mode): the grantees the service assumes for a user's group -------

data "aws_iam_policy_document" "department_trust" {
  count = local.identity_center ? 0 : 1

  statement {
    sid     = "VendingServiceOnly"
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    principals {
      type        = "AWS"
      identifiers = [var.client_application_role_arn]
    }
    # Only on behalf of a named user: the session's source identity follows it into every S3 call.
    condition {
      test     = "Null"
      variable = "sts:SourceIdentity"
      values   = ["false"]
    }
  }
}

resource "aws_iam_role" "department" {
  for_each = local.department_roles

  name                 = each.value.iam_role
  description          = "Grantee of the ${each.key} department's S3 access grants; assumed by the vending service for its members."
  assume_role_policy   = data.aws_iam_policy_document.department_trust[0].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "department" {
  statement {
    sid       = "AccessGrantsOnTheInstanceOnly"
    actions   = ["s3:GetDataAccess", "s3:ListCallerAccessGrants"]
    resources = [aws_s3control_access_grants_instance.this.access_grants_instance_arn]
  }
}

resource "aws_iam_role_policy" "department" {
  for_each = aws_iam_role.department

  name   = "access-grants"
  role   = each.value.id
  policy = data.aws_iam_policy_document.department.json
}

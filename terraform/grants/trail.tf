# Optional (cloudtrail_data_events): a trail of S3 data events for this region's served buckets, so every
# object read or write made with vended credentials is recorded with the session that made it, and joins
# the service's audit record (docs/deploying.md, "Who the caller is"). Organisations whose own trail
# already records these buckets' data events leave it off.

locals {
  trail_bucket = "${lower(var.name_prefix)}-data-events-${local.account_id}-${var.region}"
  trail_name   = "${var.name_prefix}-data-events-${var.region}"
  trail_arn    = "arn:${data.aws_partition.current.partition}:cloudtrail:${var.region}:${local.account_id}:trail/${local.trail_name}"
}

resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_18:The trail's own bucket; logging its access to another bucket would need a third, and CloudTrail already validates the files in it (log file validation).
  #checkov:skip=CKV_AWS_144:Cross-region replication of audit files is the organisation's archive choice, not the access layer's.
  #checkov:skip=CKV2_AWS_62:No consumer of bucket event notifications exists for the trail's files.
  #checkov:skip=CKV_AWS_145:SSE-KMS with a customer key follows var.kms_key_arn, as for the data buckets; SSE-S3 stays the default so the root applies without a key.
  count = var.cloudtrail_data_events ? 1 : 0

  bucket = local.trail_bucket
}

resource "aws_s3_bucket_public_access_block" "trail" {
  count = var.cloudtrail_data_events ? 1 : 0

  bucket                  = aws_s3_bucket.trail[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "trail" {
  count = var.cloudtrail_data_events ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  count = var.cloudtrail_data_events ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

# The trail's files name who read what: personal data, kept as long as the audit needs.
resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  count = var.cloudtrail_data_events ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id
  rule {
    id     = "expire-audit-files"
    status = "Enabled"
    filter {}
    expiration {
      days = var.data_events_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "trail" {
  count = var.cloudtrail_data_events ? 1 : 0

  statement {
    sid       = "CloudTrailChecksTheBucket"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
  statement {
    sid       = "CloudTrailWritesThisTrailsFiles"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail[0].arn}/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.trail[0].arn, "${aws_s3_bucket.trail[0].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  count = var.cloudtrail_data_events ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id
  policy = data.aws_iam_policy_document.trail[0].json
}

resource "aws_cloudtrail" "data_events" {
  #checkov:skip=CKV_AWS_67:Data events of this region's buckets only; the grants root is applied once per region, each with its own trail, and management events are the account's own trail's.
  #checkov:skip=CKV_AWS_252:Nobody consumes a notification per delivered file; alarms are the SAM stack's.
  #checkov:skip=CKV2_AWS_10:The files are read where the audit needs them (Athena, the console's event history for management events); streaming every data event to CloudWatch Logs would double their cost.
  #checkov:skip=CKV_AWS_35:Encrypted with var.kms_key_arn when one is given (the data buckets' key); otherwise SSE-S3, so the root applies without a key.
  count = var.cloudtrail_data_events ? 1 : 0

  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail[0].id
  enable_log_file_validation    = true
  include_global_service_events = false
  is_multi_region_trail         = false
  kms_key_id                    = var.kms_key_arn

  advanced_event_selector {
    name = "Object reads and writes in the served buckets"
    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }
    field_selector {
      field       = "resources.ARN"
      starts_with = [for bucket in aws_s3_bucket.data : "${bucket.arn}/"]
    }
  }

  depends_on = [aws_s3_bucket_policy.trail]
}

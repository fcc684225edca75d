# The data buckets: encrypted, private, versioned, owner-enforced, TLS only.

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_18:Object access is recorded by CloudTrail data events (this root's trail with cloudtrail_data_events, or the organisation's) and every grant decision by Access Grants' GetDataAccess events; server access logs would add a log bucket recording the same, without the session.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice of the data owner, not of the access layer.
  #checkov:skip=CKV2_AWS_62:No consumer of bucket event notifications exists; grants, not events, are this stack's concern.
  #checkov:skip=CKV_AWS_145:SSE-KMS with a customer key is supported through var.kms_key_arn; SSE-S3 stays the default so the stack deploys without a key.
  for_each = local.buckets

  bucket = each.value
}

resource "aws_s3_bucket_public_access_block" "data" {
  for_each = aws_s3_bucket.data

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

# Multipart uploads nobody completes or aborts (a browser closed mid-upload) hold storage until aborted:
# S3 aborts them after this many days. Nothing else expires: business data's retention is the owner's.
resource "aws_s3_bucket_lifecycle_configuration" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

data "aws_iam_policy_document" "bucket" {
  for_each = aws_s3_bucket.data

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
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

resource "aws_s3_bucket_policy" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  # S3 rejects a bucket policy while the public access block is still being applied.
  depends_on = [aws_s3_bucket_public_access_block.data]
}

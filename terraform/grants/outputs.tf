output "region" {
  description = "The region this apply covers."
  value       = var.region
}

output "identity_mode" {
  description = "Who the grants are for: identity-center or iam-role."
  value       = var.identity_mode
}

output "access_grants_instance_arn" {
  description = "ARN of the S3 Access Grants instance."
  value       = aws_s3control_access_grants_instance.this.access_grants_instance_arn
}

output "access_grants_account_id" {
  description = "Account of the S3 Access Grants instance (SAM parameter AccessGrantsAccountId)."
  value       = local.account_id
}

output "bucket_names" {
  description = "Actual bucket name by logical plan name, for this region's buckets."
  value       = local.buckets
}

output "bucket_regions" {
  description = "This region's buckets (actual names) -> region; make deploy merges every region's into the SAM parameter BucketRegions."
  value       = { for name in values(local.buckets) : name => var.region }
}

output "location_role_arn" {
  description = "Role S3 Access Grants assumes for the registered locations."
  value       = aws_iam_role.location.arn
}

output "grants" {
  description = "Every grant: its scope, permission and grantee, by \"<department>:<bucket>/<prefix>\"."
  value = {
    for key, grant in aws_s3control_access_grant.this : key => {
      grant_scope = grant.grant_scope
      permission  = grant.permission
      grantee     = local.grantees[local.grants[key].department]
    }
  }
}

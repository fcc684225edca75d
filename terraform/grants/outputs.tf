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
  description = "Actual bucket name by logical plan name."
  value       = local.buckets
}

output "allowed_buckets" {
  description = "Comma-separated bucket names the service may vend for (SAM parameter AllowedBuckets)."
  value       = join(",", sort(values(local.buckets)))
}

output "location_role_arn" {
  description = "Role S3 Access Grants assumes for the registered locations."
  value       = aws_iam_role.location.arn
}

output "role_mapping" {
  description = "Directory group -> department role ARN as JSON (SAM parameter RoleMapping, iam-role mode); \"{}\" in identity-center mode."
  value       = jsonencode({ for name, role in aws_iam_role.department : module.plan.departments[name].directory_group => role.arn })
}

output "grants" {
  description = "Every grant: its scope, permission and grantee, by \"<department>:<bucket>/<prefix>\"."
  value = {
    for key, grant in aws_s3control_access_grant.this : key => {
      grant_scope = grant.grant_scope
      permission  = grant.permission
      grantee     = local.grantees[module.plan.grants[key].department]
    }
  }
}

output "identity_mode" {
  description = "Identity mode these roles were built for (SAM parameter IdentityMode)."
  value       = var.identity_mode
}

output "client_application_role_arn" {
  description = "Execution role of the vending Lambda functions (SAM parameter ClientApplicationRoleArn)."
  value       = aws_iam_role.client_application.arn
}

output "identity_bearer_role_arn" {
  description = "Role the service assumes with the user's identity context (SAM parameter IdentityBearerRoleArn); empty in iam-role mode."
  value       = local.identity_center ? aws_iam_role.identity_bearer[0].arn : ""
}

output "identity_center_application_arn" {
  description = "Identity Center application the service exchanges JWTs with (SAM parameter IdcApplicationArn); empty in iam-role mode."
  value       = local.identity_center ? var.identity_center_application_arn : ""
}

output "access_grants_account_id" {
  description = "Account of the S3 Access Grants instance (SAM parameter AccessGrantsAccountId)."
  value       = local.account_id
}

output "role_mapping" {
  description = "Directory group -> department role ARN as JSON (SAM parameter RoleMapping, iam-role mode); \"{}\" in identity-center mode."
  value       = jsonencode({ for name, role in aws_iam_role.department : module.plan.departments[name].directory_group => role.arn })
}

output "access_grants_instance_arns" {
  description = "The S3 Access Grants instances the service's roles may ask, one per region of the plan's buckets."
  value       = local.access_grants_instance_arns
}

output "sam_stack_name" {
  description = "The SAM stack this root's roles and policies were made for (its log groups, secret and table names); make deploy refuses another."
  value       = var.sam_stack_name
}

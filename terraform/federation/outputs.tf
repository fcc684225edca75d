output "identity_center_instance_arn" {
  description = "IAM Identity Center instance (input of the grants and service-iam roots)."
  value       = local.instance_arn
}

output "identity_store_id" {
  description = "Identity store of the instance."
  value       = local.identity_store_id
}

output "application_arn" {
  description = "The vending service's Identity Center application (SAM parameter IdcApplicationArn, service-iam input)."
  value       = aws_ssoadmin_application.vending.application_arn
}

output "trusted_token_issuer_arn" {
  description = "Trusted token issuer of the company's IdP (configure_application.py input)."
  value       = aws_ssoadmin_trusted_token_issuer.idp.arn
}

output "jwt_issuer_url" {
  description = "Issuer the service and API Gateway accept (SAM parameter JwtIssuer)."
  value       = var.jwt_issuer_url
}

output "jwt_audiences" {
  description = "Audiences the application and the service accept (SAM parameter JwtAudience, configure_application.py input)."
  value       = var.jwt_audiences
}

output "directory_group_ids" {
  description = "Identity store group id by directory group name (input of the grants root)."
  value       = { for name, group in data.aws_identitystore_group.department : name => group.group_id }
}

output "jwt_user_claim" {
  description = "Claim Identity Center maps to a directory user (SAM parameter UserClaim: the service must agree)."
  value       = var.jwt_user_claim
}

output "region" {
  description = "IAM Identity Center's home region, where the service calls CreateTokenWithIAM (SAM parameter IdcRegion)."
  value       = var.region
}

"""IAM Identity Center OIDC: CreateTokenWithIAM (jwt-bearer), which moto does not have."""

"""IAM Identity Center's applications, trusted token issuers and directory (what moto's sso-admin lacks)."""

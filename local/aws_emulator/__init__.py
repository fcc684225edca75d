"""A wire-compatible local AWS for S3 Access Grants and IAM Identity Center, wrapped around moto server."""

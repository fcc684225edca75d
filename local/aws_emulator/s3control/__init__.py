"""S3 Access Grants: every `/v20180820/accessgrantsinstance…` and access-grants tag operation of s3control."""

"""S3 as AWS enforces it on top of moto: signatures, session policies of vended credentials, bucket
policies, anonymous requests, CORS."""

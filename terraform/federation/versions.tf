terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

# Applied with credentials of the account that administers IAM Identity Center (the management
# account or its delegated administrator), which may differ from the account holding the grants.
provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

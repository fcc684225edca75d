variable "region" {
  description = "Region of the vending service (its Lambda functions and their log groups)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "access_plan_file" {
  description = "Access-plan JSON file: its departments' iam_role names are the department roles created here in iam-role mode, its buckets' regions the Access Grants instances the roles may ask. Defaults to terraform/access-plan.json."
  type        = string
  default     = null
}

variable "identity_mode" {
  description = "How the service turns a user into S3 access: identity-center (trusted identity propagation) or iam-role (a department IAM role per group)."
  type        = string
  default     = "identity-center"

  validation {
    condition     = contains(["identity-center", "iam-role"], var.identity_mode)
    error_message = "identity_mode must be \"identity-center\" or \"iam-role\"."
  }
}

variable "name_prefix" {
  description = "Prefix of the role names: <prefix>-vending-client-app and <prefix>-identity-bearer."
  type        = string
  default     = "shopfast"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 characters valid in an IAM role name."
  }
}

variable "identity_center_instance_arn" {
  description = "ARN of the IAM Identity Center instance whose identity contexts the identity-bearer role accepts (identity-center mode)."
  type        = string
  default     = null

  validation {
    condition     = var.identity_center_instance_arn == null || can(regex("^arn:aws[a-z-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$", var.identity_center_instance_arn))
    error_message = "identity_center_instance_arn must look like arn:aws:sso:::instance/ssoins-0123456789abcdef."
  }
  validation {
    condition     = var.identity_mode != "identity-center" || var.identity_center_instance_arn != null
    error_message = "identity-center mode needs identity_center_instance_arn."
  }
}

variable "identity_center_application_arn" {
  description = "ARN of the Identity Center customer-managed application (output of the federation root) the service exchanges JWTs with (identity-center mode)."
  type        = string
  default     = null

  validation {
    condition     = var.identity_center_application_arn == null || can(regex("^arn:aws[a-z-]*:sso::[0-9]{12}:application/(sso)?ins-[a-zA-Z0-9-.]{16}/apl-[a-zA-Z0-9]{16}$", var.identity_center_application_arn))
    error_message = "identity_center_application_arn must look like arn:aws:sso::222222222222:application/ssoins-0123456789abcdef/apl-0123456789abcdef."
  }
  validation {
    condition     = var.identity_mode != "identity-center" || var.identity_center_application_arn != null
    error_message = "identity-center mode needs identity_center_application_arn (output of the federation root)."
  }
}

variable "sam_stack_name" {
  description = "Name of the SAM stack of the vending service; its functions' log groups are /aws/lambda/<stack>-*."
  type        = string
  default     = "shopfast-vending"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,127}$", var.sam_stack_name))
    error_message = "sam_stack_name must be a valid CloudFormation stack name."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = { Project = "shopfast-vending" }
}

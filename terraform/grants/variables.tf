variable "region" {
  description = "The region this apply covers: the plan's buckets in it, and its S3 Access Grants instance (apply once per region of the plan, in the workspace named after it)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "access_plan_file" {
  description = "Access-plan JSON file (departments -> buckets, prefixes, permissions, grantees). Defaults to terraform/access-plan.json."
  type        = string
  default     = null
}

variable "identity_mode" {
  description = "Who the grants are for: identity-center (each department's directory group) or iam-role (each department's IAM role, created by the service-iam root)."
  type        = string
  default     = "identity-center"

  validation {
    condition     = contains(["identity-center", "iam-role"], var.identity_mode)
    error_message = "identity_mode must be \"identity-center\" or \"iam-role\"."
  }
}

variable "name_prefix" {
  description = "Prefix of the location role's name: <prefix>-access-grants-location-<region>."
  type        = string
  default     = "shopfast"

  validation {
    # 64 characters at most in all: "-access-grants-location-" is 24, a region name at most 16.
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,24}$", var.name_prefix))
    error_message = "name_prefix must be 1-24 characters valid in an IAM role name."
  }
}

variable "bucket_names" {
  description = "Actual bucket name for a logical bucket of the access plan, where they differ (bucket names are global). Unlisted buckets keep their plan name."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in values(var.bucket_names) : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", name))])
    error_message = "Every bucket name must be 3-63 lowercase letters, digits, dots or hyphens."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which S3 aborts a multipart upload nobody completed (its parts cost storage until then); keep it shorter than the interval between rotations of the uploads' MAC key (docs/operations.md)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "cloudtrail_data_events" {
  description = "Create a trail of S3 data events for this region's served buckets (trail.tf): every object access made with vended credentials, by session. Leave it off where an organisation trail already records them."
  type        = bool
  default     = false
}

variable "data_events_retention_days" {
  description = "Days the trail's files are kept (they name who read what: personal data)."
  type        = number
  default     = 365

  validation {
    condition     = var.data_events_retention_days >= 1
    error_message = "data_events_retention_days must be at least 1."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for SSE-KMS on the buckets; null keeps SSE-S3. The location role is allowed to use it through S3 only."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<uuid>)."
  }
  validation {
    condition     = var.kms_key_arn == null || try(split(":", var.kms_key_arn)[3] == var.region, false)
    error_message = "kms_key_arn must be a key of the region being applied (KMS keys are regional)."
  }
}

variable "identity_center_instance_arn" {
  description = "IAM Identity Center instance to associate with the Access Grants instance (required in identity-center mode)."
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

variable "directory_group_ids" {
  description = "Identity store group id by directory group name (output directory_group_ids of the federation root); every department's directory_group must be present in identity-center mode."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = { Project = "shopfast-vending" }
}

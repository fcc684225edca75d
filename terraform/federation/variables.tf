variable "region" {
  description = "Region of the IAM Identity Center instance."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "access_plan_file" {
  description = "Access-plan JSON file; each department's directory_group is assigned to the application. Defaults to terraform/access-plan.json."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Prefix of the trusted token issuer and application names."
  type        = string
  default     = "shopfast"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 letters, digits, '_' or '-'."
  }
}

variable "jwt_issuer_url" {
  description = "Issuer URL of the company's OIDC identity provider, exactly as its tokens' iss claim (https; a trailing slash only when iss has one, as JumpCloud's https://oauth.id.jumpcloud.com/)."
  type        = string

  validation {
    # http only on loopback: the local stack's development issuer.
    condition     = can(regex("^(https://[^/?#]+|http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?)(/[^?#]*)?$", var.jwt_issuer_url))
    error_message = "jwt_issuer_url must be an https URL (http only on loopback) without query or fragment."
  }
}

variable "jwt_audiences" {
  description = "Audiences (aud) of the tokens the application accepts, e.g. the IdP client id of the apps calling the service."
  type        = list(string)

  validation {
    condition     = length(var.jwt_audiences) > 0 && alltrue([for a in var.jwt_audiences : length(trimspace(a)) > 0])
    error_message = "jwt_audiences must list at least one non-empty audience."
  }
}

variable "jwt_user_claim" {
  description = "JWT claim matched against the identity store to find the directory user."
  type        = string
  default     = "email"
}

variable "identity_store_user_attribute" {
  description = "Identity store attribute the JWT claim is matched against."
  type        = string
  default     = "emails.value"
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = { Project = "shopfast-vending" }
}

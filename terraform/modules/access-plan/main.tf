# Reads the access plan (departments -> buckets, prefixes, permissions, grantees) once and hands every
# root the same normalised view, so the department table is parsed in exactly one place.

terraform {
  required_version = ">= 1.9" # variable validations refer to other variables
}

variable "file" {
  description = "Path of the access-plan JSON file (departments, their grants and their grantees)."
  type        = string
}

locals {
  plan = jsondecode(file(var.file))

  # Logical bucket name -> its region (S3 Access Grants is regional: each region has its own instance).
  bucket_regions = { for name, bucket in local.plan.buckets : name => try(bucket.region, "") }

  departments = {
    for name, dept in local.plan.departments : name => {
      directory_group = dept.directory_group
      iam_role        = dept.iam_role
      grants          = dept.grants
    }
  }

  # One entry per (department, bucket, prefix); the key is stable across applies and readable in plans.
  # Grouped first ("..."), so a duplicated row is reported by the precondition below, not as a crash.
  grants_by_key = merge([
    for name, dept in local.departments : {
      for grant in dept.grants : "${name}:${grant.bucket}/${grant.prefix}" => {
        department = name
        bucket     = grant.bucket
        prefix     = grant.prefix
        permission = grant.permission
      }...
    }
  ]...)
  grants = { for key, rows in local.grants_by_key : key => rows[0] }
}

output "buckets" {
  description = "Logical bucket names the plan grants access to, each with its region."
  value       = local.bucket_regions

  precondition {
    condition     = alltrue([for g in local.grants : contains(keys(local.bucket_regions), g.bucket)])
    error_message = "Every grant must name a bucket listed in the plan's \"buckets\"."
  }
  precondition {
    condition     = alltrue([for region in values(local.bucket_regions) : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", region))])
    error_message = "Every bucket of the plan must name its region, e.g. {\"region\": \"us-east-1\"}."
  }
}

output "regions" {
  description = "The regions the plan's buckets live in: one S3 Access Grants instance each."
  value       = toset(values(local.bucket_regions))
}

output "departments" {
  description = "Departments by name: directory group, IAM role name and grants."
  value       = local.departments

  precondition {
    condition     = length(local.departments) > 0
    error_message = "The access plan must define at least one department."
  }
  precondition {
    condition     = alltrue([for name, d in local.departments : can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", d.iam_role))])
    error_message = "Every department's iam_role must be a valid IAM role name (1-64 characters of [A-Za-z0-9+=,.@_-])."
  }
  precondition {
    condition     = length(distinct([for d in local.departments : d.directory_group])) == length(local.departments)
    error_message = "Two departments must not share one directory group: the group decides the department."
  }
}

output "grants" {
  description = "Flattened grants keyed by \"<department>:<bucket>/<prefix>\"."
  value       = local.grants

  precondition {
    condition     = alltrue([for g in local.grants : contains(["READ", "WRITE", "READWRITE"], g.permission)])
    error_message = "Every grant's permission must be READ, WRITE or READWRITE."
  }
  precondition {
    condition     = alltrue([for rows in local.grants_by_key : length(rows) == 1])
    error_message = "A department lists the same bucket and prefix twice; keep one grant per prefix."
  }
  precondition {
    # A prefix ending in "/" becomes the scope "prefix/*", which never matches a sibling such as "users-archive/".
    condition = alltrue([
      for g in local.grants : can(regex("^([A-Za-z0-9!_.'()-]+/)+$", g.prefix))
      && !anytrue([for segment in split("/", g.prefix) : contains([".", ".."], segment)])
    ])
    error_message = "Every grant's prefix must be one or more path segments ending in \"/\" (no \"*\", no leading \"/\", no empty or dot segments)."
  }
}

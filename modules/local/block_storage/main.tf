# A SIMULATED volume: a terraform_data in Terraform state, nothing else. Growing it is
# an in-place update; the target's max_volume_gb plays the part of a quota.

terraform {
  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

locals {
  max_volume_gb = try(var.target.max_volume_gb, 1000)
  # Known before apply, so a resize does not ripple into attachments.
  id = var.volume_id != null ? var.volume_id : random_uuid.id.result
}

resource "random_uuid" "id" {
  keepers = {
    name = var.name
  }
}

resource "terraform_data" "volume" {
  input = {
    id          = local.id
    name        = var.name
    size_gb     = var.size_gb
    volume_type = var.volume_type
    snapshot_id = var.snapshot_id
  }

  lifecycle {
    precondition {
      condition     = var.size_gb == null || (var.size_gb > 0 && var.size_gb <= local.max_volume_gb)
      error_message = "Volume ${var.name}: size_gb=${coalesce(var.size_gb, 0)} is outside the target's quota (1 to ${local.max_volume_gb} GiB, max_volume_gb)."
    }
    precondition {
      condition     = var.size_gb != null || var.volume_id != null || var.snapshot_id != null
      error_message = "Volume ${var.name} needs a size, a volume_id or a snapshot_id."
    }
  }
}

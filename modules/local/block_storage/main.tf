# A SIMULATED volume: a terraform_data in Terraform state, nothing else. Growing it
# is an in-place update (same id). target.max_volume_gb plays the part of a quota:
# a bigger volume fails at plan time, which makes a handy failure on purpose.

terraform {
  required_version = ">= 1.5.0"
  # Only the built-in terraform_data: no provider.
}

locals {
  max_volume_gb = try(tonumber(coalesce(try(var.target.max_volume_gb, null), 1000)), 1000)
  # An existing volume is used as it is: its id is the one given.
  existing = var.volume_id == null ? false : var.volume_id != ""
}

resource "terraform_data" "volume" {
  input = {
    name          = var.name
    deployment_id = var.deployment_id
    size_gb       = var.size_gb
    volume_type   = var.volume_type
    snapshot_id   = var.snapshot_id
    volume_id     = var.volume_id
  }

  # Another source is another volume; a new size is the same volume, resized.
  triggers_replace = [var.snapshot_id, var.volume_id]

  lifecycle {
    precondition {
      condition     = var.size_gb == null ? true : var.size_gb <= local.max_volume_gb
      error_message = "volume ${var.name}: size_gb=${coalesce(var.size_gb, 0)} exceeds the target's max_volume_gb=${local.max_volume_gb} (the simulated volume quota)."
    }
    precondition {
      condition     = var.size_gb != null || local.existing || var.snapshot_id != null
      error_message = "volume ${var.name} needs size_gb, volume_id or snapshot_id."
    }
  }
}

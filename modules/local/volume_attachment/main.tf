# A SIMULATED attachment of a volume to a server, in Terraform state only.

terraform {
  required_version = ">= 1.5.0"
  # Only the built-in terraform_data: no provider.
}

locals {
  given  = var.device == null ? "" : var.device
  is_dev = startswith(local.given, "/dev/")
  device = local.is_dev ? local.given : "/dev/vdb"
  # A mount location given as the device (older translations) counts as one.
  location = var.location != null ? var.location : (local.given != "" && !local.is_dev ? local.given : null)
}

resource "terraform_data" "attachment" {
  input = {
    name       = var.name
    compute_id = var.compute_id
    volume_id  = var.volume_id
    device     = local.device
  }

  # Another server, volume or device is another attachment.
  triggers_replace = [var.compute_id, var.volume_id, local.device]
}

# A SIMULATED object storage container, in Terraform state only.

terraform {
  required_version = ">= 1.5.0"
  # Only the built-in terraform_data: no provider.
}

locals {
  container_name = var.container_name == null ? "${var.deployment_id}-${var.name}" : var.container_name
}

resource "terraform_data" "container" {
  input = {
    name    = local.container_name
    size_gb = var.size_gb
  }

  # A container cannot be renamed; its quota changes in place.
  triggers_replace = [local.container_name]
}

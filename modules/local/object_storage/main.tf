# A SIMULATED object storage container, in Terraform state only.

terraform {
  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

resource "random_uuid" "id" {
  keepers = {
    name = var.name
  }
}

resource "terraform_data" "container" {
  input = {
    id      = random_uuid.id.result
    name    = coalesce(var.container_name, "${var.deployment_id}-${var.name}")
    size_gb = var.size_gb
  }
}

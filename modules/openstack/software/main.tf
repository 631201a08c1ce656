# The configuration payload of the software a server hosts, kept in Terraform
# state beside the server. It lives outside the compute module and after it, so
# a software property may refer to any server's attributes (its own host's
# address included) without making a dependency cycle. This file is the SAME
# for every target: no configuration tool runs, on any target.

terraform {
  required_version = ">= 1.5.0"
  # Only the built-in terraform_data: no provider.
}

resource "terraform_data" "software" {
  input = {
    host_id  = var.host_id
    software = var.software
  }
}

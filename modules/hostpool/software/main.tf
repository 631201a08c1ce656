# The configuration payload of the software a pool host runs, kept in Terraform
# state beside the host record. It lives outside the compute module and after it,
# so a software property may refer to any host's attributes without a cycle.
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

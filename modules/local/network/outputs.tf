output "id" {
  value = random_uuid.id.result
}

output "subnet_id" {
  description = "The subnet (the simulated network has one, with the network's id)."
  value       = random_uuid.id.result
}

output "name" {
  value = terraform_data.network.output.name
}

output "cidr" {
  value = terraform_data.network.output.cidr
}

output "orc_resource" {
  value = {
    cloud_id = random_uuid.id.result
    kind     = "network"
    attributes = {
      simulated    = true
      name         = terraform_data.network.output.name
      cidr         = terraform_data.network.output.cidr
      gateway_ip   = terraform_data.network.output.gateway_ip
      ip_version   = var.ip_version
      dhcp_enabled = var.dhcp_enabled
    }
  }
}

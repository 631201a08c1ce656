output "id" {
  description = "The (simulated) network id."
  value       = terraform_data.network.id
}

output "subnet_id" {
  description = "The (simulated) subnet id."
  value       = terraform_data.subnet.id
}

output "name" {
  description = "The network's name."
  value       = local.name
}

output "cidr" {
  description = "The subnet's address range."
  value       = local.cidr
  depends_on  = [terraform_data.subnet]
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this network."
  value = {
    cloud_id = terraform_data.network.id
    kind     = "network"
    attributes = {
      simulated       = true
      name            = local.name
      subnet_id       = terraform_data.subnet.id
      cidr            = local.cidr
      ip_version      = var.ip_version
      gateway_ip      = local.gateway_ip
      start_ip        = var.start_ip
      end_ip          = var.end_ip
      dhcp_enabled    = var.dhcp_enabled
      external_access = var.external_access
    }
  }
}

output "id" {
  description = "The (simulated) port id."
  value       = terraform_data.port.id
}

output "ip_address" {
  description = "The port's address."
  value       = local.ip_address
}

output "mac_address" {
  description = "The port's MAC address."
  value       = local.mac_address
}

output "network_id" {
  description = "The network the port is on (\"default\" for the target's default network)."
  value       = local.network_id
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this port."
  value = {
    cloud_id = terraform_data.port.id
    kind     = "port"
    attributes = {
      simulated   = true
      name        = var.name
      ip_address  = local.ip_address
      mac_address = local.mac_address
      network_id  = local.network_id
      subnet_id   = local.subnet_id
      order       = var.order
      is_default  = var.is_default
    }
  }
}

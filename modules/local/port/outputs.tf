output "id" {
  value = random_uuid.id.result
}

output "ip_address" {
  value = terraform_data.port.output.ip_address
}

output "mac_address" {
  value = terraform_data.port.output.mac_address
}

output "network_id" {
  value = terraform_data.port.output.network_id
}

output "orc_resource" {
  value = {
    cloud_id = random_uuid.id.result
    kind     = "port"
    attributes = {
      simulated   = true
      ip_address  = terraform_data.port.output.ip_address
      mac_address = terraform_data.port.output.mac_address
      network_id  = terraform_data.port.output.network_id
      order       = var.order
      is_default  = var.is_default
    }
  }
}

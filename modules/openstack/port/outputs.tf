output "id" {
  value = openstack_networking_port_v2.port.id
}

output "ip_address" {
  value = try(openstack_networking_port_v2.port.all_fixed_ips[0], null)
}

output "mac_address" {
  value = openstack_networking_port_v2.port.mac_address
}

output "network_id" {
  value = openstack_networking_port_v2.port.network_id
}

output "orc_resource" {
  value = {
    cloud_id = openstack_networking_port_v2.port.id
    kind     = "port"
    attributes = {
      simulated   = false
      ip_address  = try(openstack_networking_port_v2.port.all_fixed_ips[0], null)
      mac_address = openstack_networking_port_v2.port.mac_address
      network_id  = openstack_networking_port_v2.port.network_id
    }
  }
}

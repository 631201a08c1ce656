output "id" {
  value = openstack_networking_network_v2.network.id
}

output "subnet_id" {
  value = openstack_networking_subnet_v2.subnet.id
}

output "name" {
  value = openstack_networking_network_v2.network.name
}

output "cidr" {
  value = openstack_networking_subnet_v2.subnet.cidr
}

output "orc_resource" {
  value = {
    cloud_id = openstack_networking_network_v2.network.id
    kind     = "network"
    attributes = {
      simulated = false
      name      = openstack_networking_network_v2.network.name
      cidr      = openstack_networking_subnet_v2.subnet.cidr
      subnet_id = openstack_networking_subnet_v2.subnet.id
      router    = local.with_router
    }
  }
}

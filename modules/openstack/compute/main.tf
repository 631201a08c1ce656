# A server on OpenStack: an instance with a key pair, a security group with one
# rule per endpoint port, a port (its own, or the Port nodes bound to it), a
# floating IP when asked for, and a power state that changes in place. The flavor
# and image choice lives in catalog.tf (no data sources: they would need the
# cloud at plan time).

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

locals {
  full_name = "${var.deployment_id}-${var.name}"
  # Target settings; a missing, null or empty one takes the default.
  availability_zone = try(coalesce(var.target.availability_zone), "")
  external_network  = coalesce(try(var.target.external_network, null), "public")
  default_network   = coalesce(try(var.target.default_network, null), "private")
  # A default network known by id (default_network_id, or a UUID given as
  # default_network) lets the server have a port of its own, hence a floating IP.
  default_network_is_id = can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", local.default_network))
  default_network_id    = try(coalesce(var.target.default_network_id), local.default_network_is_id ? local.default_network : "")

  # How the server is wired, first that applies:
  #   1. the Port nodes bound to it;
  #   2. a port of its own on `network`, or on target.default_network_id;
  #   3. target.default_network by name (Nova makes the port, so no floating IP:
  #      associating one needs a port id, and no data source may look it up).
  # These depend only on values known at plan time, so counts stay known.
  bound    = length(var.ports) > 0
  own_port = !local.bound && (var.network != null || local.default_network_id != "")
  by_name  = !local.bound && !local.own_port
  port_ids = (local.bound ? [for p in var.ports : p.id]
    : local.own_port ? [openstack_networking_port_v2.server[0].id] : []
  )

  # One rule per distinct endpoint (protocol, port, cidr); keys survive reordering.
  endpoint_rules = { for p in var.endpoint_ports : "${lower(p.protocol)}-${p.port}-${p.cidr}" => p... }

  # The first key is the key pair; cloud-init adds the others.
  extra_keys = length(var.ssh_public_keys) > 1 ? slice(var.ssh_public_keys, 1, length(var.ssh_public_keys)) : []
  user_data  = length(local.extra_keys) > 0 ? "#cloud-config\n${yamlencode({ ssh_authorized_keys = local.extra_keys })}" : null
}

resource "openstack_compute_keypair_v2" "key" {
  count      = length(var.ssh_public_keys) > 0 ? 1 : 0
  name       = local.full_name
  public_key = var.ssh_public_keys[0]
}

resource "openstack_networking_secgroup_v2" "server" {
  name        = local.full_name
  description = "Endpoints of ${var.name} (orchestrator deployment ${var.deployment_id})"
}

resource "openstack_networking_secgroup_rule_v2" "endpoint" {
  for_each          = local.endpoint_rules
  security_group_id = openstack_networking_secgroup_v2.server.id
  direction         = "ingress"
  ethertype         = length(split(":", each.value[0].cidr)) > 1 ? "IPv6" : "IPv4"
  protocol          = lower(each.value[0].protocol)
  # ICMP has no ports.
  port_range_min   = lower(each.value[0].protocol) == "icmp" ? null : each.value[0].port
  port_range_max   = lower(each.value[0].protocol) == "icmp" ? null : each.value[0].port
  remote_ip_prefix = each.value[0].cidr
}

resource "openstack_networking_port_v2" "server" {
  count              = local.own_port ? 1 : 0
  name               = local.full_name
  network_id         = var.network != null ? var.network.id : local.default_network_id
  admin_state_up     = true
  security_group_ids = [openstack_networking_secgroup_v2.server.id]
}

# Port nodes are made without our security group: add it.
resource "openstack_networking_port_secgroup_associate_v2" "bound" {
  count              = length(var.ports)
  port_id            = var.ports[count.index].id
  security_group_ids = [openstack_networking_secgroup_v2.server.id]
}

resource "openstack_compute_instance_v2" "server" {
  name              = local.full_name
  flavor_name       = local.flavor
  image_name        = local.image
  key_pair          = length(var.ssh_public_keys) > 0 ? openstack_compute_keypair_v2.key[0].name : null
  availability_zone = local.availability_zone != "" ? local.availability_zone : null
  # With ports, the security group is on the ports; by name, Nova makes the port.
  security_groups = local.by_name ? [openstack_networking_secgroup_v2.server.name] : null
  user_data       = local.user_data
  power_state     = var.power_state == "stopped" ? "shutoff" : "active"
  metadata = {
    orchestrator_deployment = var.deployment_id
    orchestrator_node       = var.name
  }

  dynamic "network" {
    for_each = local.port_ids
    content {
      port = network.value
    }
  }
  dynamic "network" {
    for_each = local.by_name ? [local.default_network] : []
    content {
      name = network.value
    }
  }

  lifecycle {
    # Keys reach a server when it boots: new owners' keys must not replace running
    # servers (a redeploy gives them to new servers).
    ignore_changes = [user_data, key_pair]

    precondition {
      condition     = local.flavor != null
      error_message = "no flavor in the target catalog fits ${local.flavor_request} (server ${var.name}); the catalog has: ${local.flavor_catalog_text}."
    }
    precondition {
      condition     = local.image != null
      error_message = "no image in the target catalog matches ${local.image_request} (server ${var.name}); the catalog has: ${local.image_catalog_text}."
    }
    precondition {
      condition     = !(var.public_address && local.by_name)
      error_message = "server ${var.name} asks for a public address but sits on target.default_network (\"${local.default_network}\") by name: a floating IP needs a port, so give the target a default_network_id (or default_network as an id), give the server a network, or bind a Port to it."
    }
  }
}

resource "openstack_networking_floatingip_v2" "public" {
  count       = var.public_address ? 1 : 0
  pool        = local.external_network
  description = local.full_name
}

resource "openstack_networking_floatingip_associate_v2" "public" {
  count       = var.public_address && !local.by_name ? 1 : 0
  floating_ip = openstack_networking_floatingip_v2.public[0].address
  port_id     = local.port_ids[0]
  # Associate once the port is bound to the server.
  depends_on = [openstack_compute_instance_v2.server]
}

# The hosted software's configuration payload, kept in Terraform state beside the
# server (and changed in place), as on every target.
resource "terraform_data" "software" {
  input = var.software
}

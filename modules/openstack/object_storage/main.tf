# A Swift container.

terraform {
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

resource "openstack_objectstorage_container_v1" "container" {
  name = coalesce(var.container_name, "${var.deployment_id}-${var.name}")
}

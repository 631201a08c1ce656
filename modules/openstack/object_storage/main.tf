# A Swift container. size_gb becomes the container quota (Swift's container_quotas
# middleware reads X-Container-Meta-Quota-Bytes).

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
  container_name = var.container_name == null ? "${var.deployment_id}-${var.name}" : var.container_name
}

resource "openstack_objectstorage_container_v1" "container" {
  name = local.container_name
  metadata = var.size_gb == null ? {} : {
    Quota-Bytes = tostring(floor(var.size_gb * 1073741824))
  }
  # The container belongs to the deployment: deleting the deployment deletes it
  # with its objects, instead of failing on a non-empty container.
  force_destroy = true
}

# The first four variables are the ones every module takes (see modules/README.md).

variable "name" {
  description = "Instance name, <node>-<index>, unique within the deployment."
  type        = string
}

variable "deployment_id" {
  description = "The orchestrator's deployment id."
  type        = string
}

variable "index" {
  description = "count.index of this instance."
  type        = number
  default     = 0
}

variable "target" {
  description = "The target's non-secret configuration; this module reads flavors, images, default_network, default_network_id, external_network and availability_zone."
  type        = any
  default     = {}
}

variable "num_cpus" {
  description = "Virtual CPUs asked for (TOSCA host.num_cpus); null = any."
  type        = number
  default     = null
  validation {
    condition     = var.num_cpus == null ? true : var.num_cpus >= 1
    error_message = "num_cpus must be 1 or more."
  }
}

variable "mem_size_mb" {
  description = "Memory asked for, in MiB (TOSCA host.mem_size); null = any."
  type        = number
  default     = null
  validation {
    condition     = var.mem_size_mb == null ? true : var.mem_size_mb >= 0
    error_message = "mem_size_mb must not be negative."
  }
}

variable "disk_size_gb" {
  description = "Root disk asked for, in GiB (TOSCA host.disk_size); null = any."
  type        = number
  default     = null
  validation {
    condition     = var.disk_size_gb == null ? true : var.disk_size_gb >= 0
    error_message = "disk_size_gb must not be negative."
  }
}

variable "num_gpus" {
  description = "GPUs asked for; null = any."
  type        = number
  default     = null
  validation {
    condition     = var.num_gpus == null ? true : var.num_gpus >= 0
    error_message = "num_gpus must not be negative."
  }
}

variable "flavor" {
  description = "An explicit flavor name; null = the best fit from the catalog."
  type        = string
  default     = null
}

variable "image" {
  description = "An explicit image name; null = the first catalog image matching os."
  type        = string
  default     = null
}

variable "os" {
  description = "TOSCA os capability; every field given must match the image (case-insensitive)."
  type = object({
    distribution = optional(string)
    version      = optional(string)
    type         = optional(string)
    architecture = optional(string)
  })
  default  = {}
  nullable = false
}

variable "public_address" {
  description = "Give the server a floating IP from target.external_network (default \"public\")."
  type        = bool
  default     = false
  nullable    = false
}

variable "endpoint_ports" {
  description = "Ports the server's endpoints open: one security group ingress rule each."
  type = list(object({
    port     = number
    protocol = optional(string, "tcp")
    cidr     = optional(string, "0.0.0.0/0")
  }))
  default  = []
  nullable = false
  validation {
    condition = alltrue([for p in var.endpoint_ports :
      contains(["tcp", "udp", "icmp"], lower(p.protocol)) && (lower(p.protocol) == "icmp" || (p.port >= 1 && p.port <= 65535)) && can(cidrhost(p.cidr, 0))
    ])
    error_message = "Every endpoint port needs a protocol of tcp, udp or icmp, a port in 1-65535 (ignored for icmp), and a cidr such as 0.0.0.0/0."
  }
}

variable "network" {
  description = "The network the server sits on when it has no port: {id, cidr}; the server gets a port of its own there. null = the target's default network."
  type = object({
    id        = string
    cidr      = string
    subnet_id = optional(string)
  })
  default = null
}

variable "ports" {
  description = "Ports bound to this server, from port modules; the first gives the private address."
  type = list(object({
    id         = string
    ip_address = string
    network_id = optional(string)
  }))
  default  = []
  nullable = false
}

variable "address_offset" {
  description = "Used by the local target only (Neutron allocates addresses here); accepted so that every target takes the same arguments."
  type        = number
  default     = 10
  nullable    = false
  validation {
    condition     = var.address_offset >= 0
    error_message = "address_offset must not be negative."
  }
}

variable "power_state" {
  description = "\"started\" or \"stopped\"."
  type        = string
  default     = "started"
  nullable    = false
  validation {
    condition     = contains(["started", "stopped"], var.power_state)
    error_message = "power_state must be \"started\" or \"stopped\"."
  }
}

variable "ssh_public_keys" {
  description = "OpenSSH public keys allowed to log in: the first becomes the key pair, the others go in cloud-init ssh_authorized_keys. Injected at boot only."
  type        = list(string)
  default     = []
  nullable    = false
  validation {
    condition     = alltrue([for k in var.ssh_public_keys : can(regex("^(ssh-|ecdsa-|sk-)[^ ]+ [A-Za-z0-9+/=]+", k))])
    error_message = "Every ssh public key must be in OpenSSH format (\"ssh-ed25519 AAAA... comment\")."
  }
}

variable "software" {
  description = "The software nodes hosted on this server (types, properties, artifacts): configuration payload kept in Terraform state beside the server."
  type        = any
  default     = []
  nullable    = false
}

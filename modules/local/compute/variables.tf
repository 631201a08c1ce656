variable "name" {
  description = "Instance name, unique within the deployment (<node>-<index>)."
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
  description = "The target's non-secret configuration: flavors, images, default_network_cidr, public_cidr, boot_seconds."
  type        = any
  default     = {}
}

variable "num_cpus" {
  description = "Virtual CPUs asked for (TOSCA host.num_cpus); null when unspecified."
  type        = number
  default     = null
}

variable "mem_size_mb" {
  description = "Memory asked for, in MiB (TOSCA host.mem_size)."
  type        = number
  default     = null
}

variable "disk_size_gb" {
  description = "Root disk asked for, in GiB (TOSCA host.disk_size)."
  type        = number
  default     = null
}

variable "num_gpus" {
  description = "GPUs asked for."
  type        = number
  default     = null
}

variable "flavor" {
  description = "An explicit flavor name; null picks the best fit from the catalog."
  type        = string
  default     = null
}

variable "image" {
  description = "An explicit image name; null picks the first catalog image matching os."
  type        = string
  default     = null
}

variable "os" {
  description = "TOSCA os capability: distribution, version, type, architecture."
  type = object({
    distribution = optional(string)
    version      = optional(string)
    type         = optional(string)
    architecture = optional(string)
  })
  default = {}
}

variable "public_address" {
  description = "Give the server a (simulated) floating address."
  type        = bool
  default     = false
}

variable "endpoint_ports" {
  description = "Ports the server's endpoints open (recorded as security group rules)."
  type = list(object({
    port     = number
    protocol = string
    cidr     = string
  }))
  default = []
}

variable "network" {
  description = "The network the server sits on when it has no port: {id, cidr}."
  type = object({
    id        = string
    cidr      = string
    subnet_id = optional(string)
  })
  default = null
}

variable "ports" {
  description = "Ports bound to this server; the first gives its private address."
  type = list(object({
    id         = string
    ip_address = string
    network_id = string
  }))
  default = []
}

variable "address_offset" {
  description = "Where this node's addresses start in the network (host number)."
  type        = number
  default     = 10
}

variable "power_state" {
  description = "started or stopped."
  type        = string
  default     = "started"
  validation {
    condition     = contains(["started", "stopped"], var.power_state)
    error_message = "power_state must be started or stopped."
  }
}

variable "ssh_public_keys" {
  description = "The owners' OpenSSH public keys."
  type        = list(string)
  default     = []
}

variable "software" {
  description = "Software nodes hosted on this server (their types, properties, artifacts), kept as configuration payload."
  type        = any
  default     = []
}

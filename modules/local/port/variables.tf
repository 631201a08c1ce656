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
  description = "The target's non-secret configuration."
  type        = any
  default     = {}
}

variable "network" {
  description = "The network the port is on: {id, cidr}; null is the target's default network."
  type = object({
    id        = string
    cidr      = string
    subnet_id = optional(string)
  })
  default = null
}

variable "ip_address" {
  description = "A fixed address; null allocates one."
  type        = string
  default     = null
}

variable "order" {
  type    = number
  default = 0
}

variable "is_default" {
  type    = bool
  default = false
}

variable "address_offset" {
  description = "Where this port's allocated addresses start (host number)."
  type        = number
  default     = 10
}

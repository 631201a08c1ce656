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

variable "network_name" {
  type    = string
  default = null
}

variable "cidr" {
  description = "Address range; null picks 10.20.<index>.0/24."
  type        = string
  default     = null
}

variable "ip_version" {
  type    = number
  default = 4
}

variable "gateway_ip" {
  type    = string
  default = null
}

variable "start_ip" {
  type    = string
  default = null
}

variable "end_ip" {
  type    = string
  default = null
}

variable "dhcp_enabled" {
  type    = bool
  default = true
}

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

variable "size_gb" {
  type    = number
  default = null
}

variable "container_name" {
  type    = string
  default = null
}

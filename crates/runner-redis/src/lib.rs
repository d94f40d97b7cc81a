//! Kestra's Redis tasks (`io.kestra.plugin.redis`): strings (`string.Set`, `Get`, `Delete`,
//! `Increment`, `Ttl`) and lists (`list.ListPush`, `ListPop`), with their older names
//! (`io.kestra.plugin.redis.Set`...). One connection per task run, closed when it ends.

mod client;
mod list;
mod serde_type;
mod string;

use runner_core::plugin::TaskDescriptor;

pub const TASKS: &[TaskDescriptor] = &[
    string::SET,
    string::GET,
    string::DELETE,
    string::INCREMENT,
    string::TTL,
    list::LIST_PUSH,
    list::LIST_POP,
];

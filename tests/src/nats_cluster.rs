//! A JetStream cluster of real `nats-server` processes on loopback ports, each with its
//! own storage directory, for tests that kill and restart nodes.
//!
//! Each node is started from a configuration file written into the cluster's temporary
//! directory; [`NatsCluster::kill`] sends SIGKILL (nothing is flushed), and
//! [`NatsCluster::restart`] starts the node again on the same ports and storage, as an
//! operator would after a crash. Health is read from each node's monitoring endpoint
//! (`/jsz`), with a plain HTTP request, so the harness needs no NATS client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `nats-server` binary: `$NATS_SERVER`, or `nats-server` on the `PATH`.
pub fn nats_server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    })
}

/// One node's ports and process.
struct Node {
    name: String,
    client_port: u16,
    monitor_port: u16,
    config: PathBuf,
    log: PathBuf,
    process: Option<Child>,
}

/// A running cluster; its processes are killed and its storage removed on drop.
pub struct NatsCluster {
    binary: PathBuf,
    nodes: Vec<Node>,
    // Kept for its drop: the storage directories and configuration files live here.
    dir: tempfile::TempDir,
}

/// A loopback port nothing listens on now (the OS's choice).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl NatsCluster {
    /// Starts `size` JetStream nodes clustered with each other and waits until they have
    /// elected a meta leader. `None` (with a message saying so) if `nats-server` is not
    /// installed.
    pub fn start(size: usize) -> std::io::Result<Option<Self>> {
        Self::start_with(size, "")
    }

    /// As [`start`](Self::start), with `extra` added to every node's configuration (such
    /// as `max_payload: 64MB`). A single node is started without a cluster block.
    pub fn start_with(size: usize, extra: &str) -> std::io::Result<Option<Self>> {
        let Some(binary) = nats_server_binary() else {
            eprintln!("SKIPPED, needs nats-server (Debian package nats-server)");
            return Ok(None);
        };
        let dir = tempfile::tempdir()?;
        let mut ports = Vec::new();
        for _ in 0..size {
            ports.push((free_port()?, free_port()?, free_port()?));
        }
        let mut nodes = Vec::new();
        for (i, (client, cluster, monitor)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            std::fs::create_dir_all(&store)?;
            let routes: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, route, _))| format!("nats-route://127.0.0.1:{route}"))
                .collect();
            let config = dir.path().join(format!("{name}.conf"));
            let cluster_block = if size > 1 {
                format!(
                    "cluster {{ name: factum-test\n  listen: 127.0.0.1:{cluster}\n  routes: [{}]\n}}\n",
                    routes.join(", ")
                )
            } else {
                String::new()
            };
            std::fs::write(
                &config,
                format!(
                    "server_name: {name}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\n\
                     jetstream {{ store_dir: {store:?} }}\n{cluster_block}{extra}\n"
                ),
            )?;
            nodes.push(Node {
                log: dir.path().join(format!("{name}.log")),
                name,
                client_port: *client,
                monitor_port: *monitor,
                config,
                process: None,
            });
        }
        let mut cluster = NatsCluster { binary, nodes, dir };
        for i in 0..size {
            cluster.spawn(i)?;
        }
        cluster.wait_for_meta_leader(Duration::from_secs(30))?;
        Ok(Some(cluster))
    }

    fn spawn(&mut self, index: usize) -> std::io::Result<()> {
        let node = &mut self.nodes[index];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        node.process = Some(child);
        Ok(())
    }

    /// The client URL of every node, for a client that should fail over between them.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect()
    }

    /// The nodes' names (`n1`, `n2`, …), in start order.
    pub fn names(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    /// Kills node `index` with SIGKILL and waits for it to exit.
    pub fn kill(&mut self, index: usize) -> std::io::Result<()> {
        if let Some(mut process) = self.nodes[index].process.take() {
            process.kill()?;
            process.wait()?;
        }
        Ok(())
    }

    /// Starts node `index` again on its ports and storage, and waits until it answers
    /// and the cluster has a meta leader.
    pub fn restart(&mut self, index: usize) -> std::io::Result<()> {
        self.kill(index)?;
        self.spawn(index)?;
        self.wait_for_meta_leader(Duration::from_secs(30))
    }

    /// The name of the node the cluster's meta leader is, as node `index` sees it.
    pub fn meta_leader(&self, index: usize) -> Option<String> {
        let jsz = get_json(self.nodes[index].monitor_port, "/jsz")?;
        jsz["meta_cluster"]["leader"]
            .as_str()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
    }

    /// The index of the node named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Waits until every running node answers and agrees on a meta leader that is itself
    /// running.
    pub fn wait_for_meta_leader(&self, timeout: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        if self.nodes.len() == 1 {
            // A single server has no meta group: it is ready when JetStream answers.
            while get_json(self.nodes[0].monitor_port, "/jsz").is_none() {
                if Instant::now() > deadline {
                    return Err(std::io::Error::other(format!(
                        "nats-server did not start within {timeout:?}:\n{}",
                        tail(&self.nodes[0].log, 20)
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        loop {
            let running: Vec<usize> = (0..self.nodes.len())
                .filter(|i| self.nodes[*i].process.is_some())
                .collect();
            let leaders: Vec<Option<String>> =
                running.iter().map(|i| self.meta_leader(*i)).collect();
            // Agreed on, and one of the running nodes: right after a kill the others
            // still name the dead leader until they notice.
            let agreed =
                leaders.iter().all(Option::is_some) && leaders.windows(2).all(|w| w[0] == w[1]);
            let alive = leaders
                .first()
                .cloned()
                .flatten()
                .is_some_and(|leader| running.iter().any(|i| self.nodes[*i].name == leader));
            if agreed && alive {
                return Ok(());
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| format!("{}:\n{}", n.name, tail(&n.log, 20)))
                    .collect();
                return Err(std::io::Error::other(format!(
                    "the cluster elected no meta leader within {timeout:?} (seen: {leaders:?})\n{}",
                    logs.join("\n")
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Where the nodes keep their storage and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut process) = node.process.take() {
                let _ = process.kill();
                let _ = process.wait();
            }
        }
    }
}

/// The last `lines` lines of a file, for error messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `GET path` on a node's monitoring port, parsed as JSON; `None` if it does not answer.
fn get_json(port: u16, path: &str) -> Option<serde_json::Value> {
    let mut socket =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        socket,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    socket.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then_some(())?;
    serde_json::from_str(body).ok()
}

#[cfg(test)]
mod tests {
    use super::NatsCluster;

    /// The harness itself: three nodes elect a leader, survive the leader's SIGKILL (the
    /// other two elect another) and take the node back.
    #[test]
    fn three_nodes_elect_a_leader_and_survive_losing_it() {
        let Some(mut cluster) = NatsCluster::start(3).unwrap() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "nats-server is needed in CI"
            );
            return;
        };
        let leader = cluster.meta_leader(0).expect("a meta leader");
        let victim = cluster
            .index_of(&leader)
            .expect("the leader is one of ours");
        cluster.kill(victim).unwrap();
        let survivor = (victim + 1) % 3;
        cluster
            .wait_for_meta_leader(std::time::Duration::from_secs(30))
            .unwrap();
        let next = cluster.meta_leader(survivor).expect("a new meta leader");
        assert_ne!(next, leader, "a killed node cannot stay the leader");
        cluster.restart(victim).unwrap();
        assert_eq!(
            cluster.meta_leader(victim),
            cluster.meta_leader(survivor),
            "the restarted node follows the same leader"
        );
        assert_eq!(cluster.names(), ["n1", "n2", "n3"]);
        assert_eq!(cluster.urls().len(), 3);
    }
}

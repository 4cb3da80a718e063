//! The start-first strategy: each replacement starts beside the replica it replaces, on a
//! port of its own (`port_range`, handed over through `port_env`), and must pass the health
//! gate on that port. Only then are names swapped (the old container is parked, the new one
//! takes the replica's name), the profile's `switch` hooks move the replica's traffic to it,
//! and after `drain` the old container is stopped and kept. Going back is the same in
//! reverse: the old container serves again and is healthy before traffic is switched back,
//! and only then is the replacement removed. A replacement that fails its gate never
//! received traffic, so its switch never runs.

use super::{Moved, Phase, ReplaceFailure, Runner};
use crate::deploy::gate::{wait_healthy, GateFailure, GateResult};
use crate::deploy::plan::PlannedReplica;
use crate::deploy::ports::{self, new_name, parked_name, retarget};
use crate::deploy::recreate::{replacement_body, Ops};
use crate::docker::model;
use crate::ssh::SshSession;
use bollard::Docker;
use std::collections::HashMap;

/// How far a start-first replacement got (kept across reconnects and for the rollback).
#[derive(Debug, Clone)]
pub(super) struct Beside {
    old_port: u16,
    new_port: Option<u16>,
    /// The replacement's name until it takes over the replica's name.
    new_name: String,
    /// Traffic may have moved to the replacement: the switch started.
    switched: bool,
    /// Every switch hook succeeded.
    switch_done: bool,
    /// post_start and pre_stop ran.
    hooks_done: bool,
}

type Step = Result<(), (String, Option<GateFailure>)>;

impl Runner {
    /// Replace one replica start-first; retried after a dropped connection.
    pub(super) async fn replace_beside(&self, r: &PlannedReplica) -> Result<Moved, ReplaceFailure> {
        let mut b = Beside {
            old_port: r.port.unwrap_or_default(),
            new_port: None,
            new_name: new_name(&r.container, &self.plan.release_id),
            switched: false,
            switch_done: false,
            hooks_done: false,
        };
        let mut new_id = None;
        loop {
            let (session, docker) = match self.live(&r.host).await {
                Ok(x) => x,
                Err(e) => return Err((moved(r, new_id, b), e, None)),
            };
            match self.beside_once(&session, &docker, r, &mut new_id, &mut b).await {
                Ok(()) => return Ok(moved(r, new_id, b)),
                Err((reason, gate)) => {
                    if session.is_closed() || gate.as_ref().is_some_and(|g| g.connection_lost) {
                        continue;
                    }
                    return Err((moved(r, new_id, b), reason, gate));
                }
            }
        }
    }

    async fn beside_once(
        &self,
        session: &SshSession,
        docker: &Docker,
        r: &PlannedReplica,
        new_id: &mut Option<String>,
        b: &mut Beside,
    ) -> Step {
        let ops = Ops { docker };
        let d = &self.plan.service_spec.deploy;
        let fail = |e: String| (e, None);
        // 1. The replacement, on its own port, unless an earlier attempt created it.
        if new_id.is_none() {
            if let Ok(c) = ops.inspect(&b.new_name).await {
                let info = model::ContainerInfo::from_inspect(c);
                b.new_port = info.labels.get(ports::PORT_LABEL).and_then(|p| p.parse().ok());
                *new_id = Some(info.id);
            }
        }
        if new_id.is_none() {
            let old = ops.inspect(&r.container_id).await.map_err(fail)?;
            let port = self.free_port(session, docker, r).await.map_err(fail)?;
            let image_cfg = ops.image_config(&old.image.clone().unwrap_or_default()).await;
            let labels = vec![("fleetdeck.release".to_string(), self.plan.release_id.clone())];
            let mut body = replacement_body(&old, image_cfg.as_ref(), &self.plan.to_image, &labels);
            retarget(&mut body, d.port_env.as_deref(), b.old_port, port).map_err(fail)?;
            self.note(format!(
                "{}/{}: starting {} beside it on port {port} (it serves on {})",
                r.host, r.container, self.plan.to_image, b.old_port
            ))
            .await;
            *new_id = Some(ops.create(&b.new_name, body).await.map_err(fail)?);
            b.new_port = Some(port);
        }
        let id = new_id.clone().unwrap_or_default();
        let new_port = b.new_port.ok_or_else(|| fail(format!("{}: no {} label", b.new_name, ports::PORT_LABEL)))?;
        ops.start(&id).await.map_err(fail)?;
        self.phase(r, Phase::WaitingHealthy).await;
        match wait_healthy(session, docker, &self.plan.service_spec, &id, self.plan.health_timeout, |_| {}).await {
            GateResult::Healthy { after } => {
                self.note(format!(
                    "{}/{} healthy on {} (port {new_port}) after {:.1}s",
                    r.host,
                    r.container,
                    self.plan.to_image,
                    after.as_secs_f32()
                ))
                .await
            }
            GateResult::Failed(f) => return Err((f.reason.clone(), Some(f))),
        }
        // 2. Names: the old container is parked, the replacement takes the replica's name.
        let parked = parked_name(&r.container, &self.plan.release_id);
        rename_if_needed(&ops, &r.container_id, &parked).await.map_err(fail)?;
        rename_if_needed(&ops, &id, &r.container).await.map_err(fail)?;
        // 3. Traffic moves to the replacement.
        if !b.switch_done {
            b.switched = true;
            let vars = self.plan.hook_vars(r, Some(new_port)).switch(&parked, b.old_port, &r.container, new_port);
            for hook in &d.switch {
                let host = hook.host.as_deref().unwrap_or(&r.host);
                self.note(format!(
                    "{}/{}: switching traffic {} -> {new_port} on {host}",
                    r.host, r.container, b.old_port
                ))
                .await;
                self.run_hook(host, &hook.run, &vars).await.map_err(|e| fail(format!("switch failed: {e}")))?;
            }
            b.switch_done = true;
        }
        // 4. The hooks around the two containers, the drain, and the old container stops (kept).
        if !b.hooks_done {
            for hook in &d.post_start {
                let vars = self.plan.hook_vars(r, Some(new_port));
                self.run_hook(hook.host.as_deref().unwrap_or(&r.host), &hook.run, &vars).await.map_err(fail)?;
            }
            for hook in &d.pre_stop {
                let mut old = r.clone();
                old.container = parked.clone();
                let vars = self.plan.hook_vars(&old, Some(b.old_port));
                self.run_hook(hook.host.as_deref().unwrap_or(&r.host), &hook.run, &vars).await.map_err(fail)?;
            }
            b.hooks_done = true;
            tokio::time::sleep(d.drain).await;
        }
        ops.stop(&r.container_id, self.plan.stop_timeout.as_secs() as i32).await.map_err(fail)?;
        self.note(format!("{}/{}: old container stopped and kept as {parked}", r.host, r.container)).await;
        Ok(())
    }

    /// A port of `port_range` that no container on the host holds, nothing listens on, and
    /// no other replica of this deploy is planned on (the planned one if it is still free).
    async fn free_port(&self, session: &SshSession, docker: &Docker, r: &PlannedReplica) -> Result<u16, String> {
        let range = self.plan.service_spec.deploy.port_range.ok_or("start-first needs port_range")?;
        let containers = model::list_inspected(docker, &mut HashMap::new())
            .await
            .map_err(|e| format!("list containers: {}", crate::docker::error_chain(&e)))?;
        let mut taken = ports::claimed_ports(&containers, &self.plan.service_spec);
        taken.extend(self.plan.replicas().filter(|o| *o != r).filter_map(|o| o.new_port));
        for port in r.new_port.into_iter().chain(range.ports()) {
            if taken.contains(&port) {
                continue;
            }
            match session.open_tcpip("127.0.0.1", port).await {
                Ok(channel) => {
                    let _ = channel.close().await;
                    taken.insert(port);
                }
                Err(_) => {
                    if Some(port) != r.new_port {
                        self.note(format!("{}/{}: planned port taken, using {port}", r.host, r.container)).await;
                    }
                    return Ok(port);
                }
            }
        }
        Err(format!("no free port left in port_range {range} on {}", r.host))
    }

    /// Put one start-first replica back: the old container serves and is healthy, traffic
    /// returns to it (if it may have left), the replacement is removed, the name restored.
    pub(super) async fn revert_beside(&self, m: &Moved) -> Result<(), String> {
        let r = &m.replica;
        let Some(b) = &m.beside else { return Err("not a start-first replica".into()) };
        loop {
            let (session, docker) = self.live(&r.host).await?;
            let ops = Ops { docker: &docker };
            if let Err(e) = ops.start(&r.container_id).await {
                if session.is_closed() {
                    continue;
                }
                return Err(e);
            }
            match wait_healthy(
                &session,
                &docker,
                &self.plan.service_spec,
                &r.container_id,
                self.plan.health_timeout,
                |_| {},
            )
            .await
            {
                GateResult::Healthy { .. } => {}
                GateResult::Failed(f) if f.connection_lost => continue,
                GateResult::Failed(f) => {
                    return Err(format!("the previous container is not healthy again: {}", f.reason))
                }
            }
            let attempt = async {
                if let (true, Some(new_port)) = (b.switched, b.new_port) {
                    let name_of = |id: String| {
                        let ops = &ops;
                        async move {
                            let c = ops.inspect(&id).await?;
                            Ok::<String, String>(c.name.unwrap_or_default().trim_start_matches('/').to_string())
                        }
                    };
                    let old_name = name_of(r.container_id.clone()).await?;
                    let new_name = match &m.new_id {
                        Some(id) => name_of(id.clone()).await.unwrap_or_else(|_| b.new_name.clone()),
                        None => b.new_name.clone(),
                    };
                    let vars =
                        self.plan.hook_vars(r, Some(b.old_port)).switch(&new_name, new_port, &old_name, b.old_port);
                    for hook in &self.plan.service_spec.deploy.switch {
                        let host = hook.host.as_deref().unwrap_or(&r.host);
                        self.note(format!(
                            "{}/{}: switching traffic back {new_port} -> {} on {host}",
                            r.host, r.container, b.old_port
                        ))
                        .await;
                        self.run_hook(host, &hook.run, &vars).await.map_err(|e| format!("switch back failed: {e}"))?;
                    }
                }
                if let Some(id) = &m.new_id {
                    ops.remove(id).await?;
                }
                if let Ok(c) = ops.inspect(&b.new_name).await {
                    if c.id.as_deref() != Some(r.container_id.as_str()) {
                        ops.remove(&b.new_name).await?;
                    }
                }
                rename_if_needed(&ops, &r.container_id, &r.container).await
            };
            match attempt.await {
                Ok(()) => return Ok(()),
                Err(_) if session.is_closed() => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// After success: this release's old containers stay, stopped, for an immediate way
    /// back; the ones kept by earlier releases of the same replicas are removed.
    pub(super) async fn cleanup_beside(&self, moved: &[Moved]) {
        for m in moved {
            let r = &m.replica;
            let Ok((_, docker)) = self.live(&r.host).await else { continue };
            let Ok(all) = model::list_inspected(&docker, &mut HashMap::new()).await else { continue };
            let prefix = format!("{}-old-", r.container);
            for c in all.iter().filter(|c| ports::is_parked(c) && c.id != r.container_id) {
                if c.name.trim_start_matches('/').starts_with(&prefix) {
                    match (Ops { docker: &docker }).remove(&c.id).await {
                        Ok(()) => {
                            self.note(format!("{}: removed {} (kept by an earlier release)", r.host, c.name)).await
                        }
                        Err(e) => self.note(format!("{}: could not remove {}: {e}", r.host, c.name)).await,
                    }
                }
            }
        }
    }
}

fn moved(r: &PlannedReplica, new_id: Option<String>, b: Beside) -> Moved {
    Moved { replica: r.clone(), new_id, beside: Some(b) }
}

async fn rename_if_needed(ops: &Ops<'_>, id: &str, name: &str) -> Result<(), String> {
    let c = ops.inspect(id).await?;
    if c.name.as_deref().map(|n| n.trim_start_matches('/')) != Some(name) {
        ops.rename(id, name).await?;
    }
    Ok(())
}

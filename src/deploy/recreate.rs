//! Replacing a container with the same configuration on another image, through the Docker
//! API: what the user configured (env, labels, command, mounts, networks, ports, restart
//! policy, healthcheck) is kept; what only came from the old image is left for the new
//! image to provide (so an image's own ENV, CMD or HEALTHCHECK change with it).

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, EndpointSettings, NetworkingConfig};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions, RenameContainerOptions,
    StartContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use std::collections::HashMap;

pub type DockerResult<T> = Result<T, String>;

fn err(what: &str, e: bollard::errors::Error) -> String {
    format!("{what}: {}", crate::docker::error_chain(&e))
}

/// The create body that recreates `old` (inspected) on `image`. `old_image_config` is the
/// old image's own config, to tell user settings from image defaults.
pub fn replacement_body(
    old: &ContainerInspectResponse,
    old_image_config: Option<&bollard::models::ImageConfig>,
    image: &str,
    extra_labels: &[(String, String)],
) -> ContainerCreateBody {
    let cfg = old.config.clone().unwrap_or_default();
    let img = old_image_config.cloned().unwrap_or_default();
    let same =
        |a: &Option<Vec<String>>, b: &Option<Vec<String>>| a.as_deref().unwrap_or(&[]) == b.as_deref().unwrap_or(&[]);
    // Env: drop entries that are exactly the old image's defaults.
    let image_env = img.env.clone().unwrap_or_default();
    let env: Vec<String> = cfg.env.clone().unwrap_or_default().into_iter().filter(|e| !image_env.contains(e)).collect();
    // Labels: drop the image's own labels (unless the user changed their value).
    let image_labels = img.labels.clone().unwrap_or_default();
    let mut labels: HashMap<String, String> =
        cfg.labels.clone().unwrap_or_default().into_iter().filter(|(k, v)| image_labels.get(k) != Some(v)).collect();
    for (k, v) in extra_labels {
        labels.insert(k.clone(), v.clone());
    }
    let keep_if_user = |container: &Option<Vec<String>>, image: &Option<Vec<String>>| {
        if same(container, image) {
            None
        } else {
            container.clone()
        }
    };
    let healthcheck = if cfg.healthcheck == img.healthcheck { None } else { cfg.healthcheck.clone() };
    let networking_config = match &old.network_settings.as_ref().and_then(|n| n.networks.clone()) {
        Some(nets) if !nets.is_empty() => {
            let mode = old.host_config.as_ref().and_then(|h| h.network_mode.clone()).unwrap_or_default();
            if mode == "host" || mode == "none" || mode.starts_with("container:") {
                None
            } else {
                let endpoints = nets
                    .iter()
                    .map(|(name, ep)| {
                        let aliases = ep.aliases.clone().map(|a| {
                            // the old container's short id is an automatic alias: not ours to keep
                            let short = old.id.clone().unwrap_or_default();
                            a.into_iter().filter(|x| !short.starts_with(x.as_str())).collect()
                        });
                        (
                            name.clone(),
                            EndpointSettings {
                                aliases,
                                ipam_config: ep.ipam_config.clone(),
                                links: ep.links.clone(),
                                driver_opts: ep.driver_opts.clone(),
                                ..Default::default()
                            },
                        )
                    })
                    .collect();
                Some(NetworkingConfig { endpoints_config: Some(endpoints) })
            }
        }
        _ => None,
    };
    ContainerCreateBody {
        hostname: None,
        domainname: cfg.domainname.clone(),
        user: cfg.user.clone().filter(|u| Some(u) != img.user.as_ref() && !u.is_empty()),
        exposed_ports: keep_if_user(&cfg.exposed_ports, &img.exposed_ports),
        tty: cfg.tty,
        open_stdin: cfg.open_stdin,
        stdin_once: cfg.stdin_once,
        env: Some(env),
        cmd: keep_if_user(&cfg.cmd, &img.cmd),
        healthcheck,
        image: Some(image.to_string()),
        working_dir: cfg.working_dir.clone().filter(|w| Some(w) != img.working_dir.as_ref() && !w.is_empty()),
        entrypoint: keep_if_user(&cfg.entrypoint, &img.entrypoint),
        labels: Some(labels),
        stop_signal: cfg.stop_signal.clone().filter(|s| Some(s) != img.stop_signal.as_ref()),
        stop_timeout: cfg.stop_timeout,
        host_config: old.host_config.clone(),
        networking_config,
        ..Default::default()
    }
}

/// Thin, error-explaining wrappers around the Docker calls a deploy makes.
pub struct Ops<'a> {
    pub docker: &'a Docker,
}

impl Ops<'_> {
    pub async fn inspect(&self, id: &str) -> DockerResult<ContainerInspectResponse> {
        self.docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| err(&format!("inspect {id}"), e))
    }

    pub async fn image_config(&self, image: &str) -> Option<bollard::models::ImageConfig> {
        self.docker.inspect_image(image).await.ok().and_then(|i| i.config)
    }

    /// Is `image` present on this engine? Returns its id.
    pub async fn image_id(&self, image: &str) -> Option<String> {
        self.docker.inspect_image(image).await.ok().and_then(|i| i.id)
    }

    pub async fn rename(&self, id: &str, name: &str) -> DockerResult<()> {
        self.docker
            .rename_container(id, RenameContainerOptions { name: name.to_string() })
            .await
            .map_err(|e| err(&format!("rename {id} to {name}"), e))
    }

    pub async fn stop(&self, id: &str, grace_secs: i32) -> DockerResult<()> {
        match self.docker.stop_container(id, Some(StopContainerOptions { t: Some(grace_secs), signal: None })).await {
            Ok(()) => Ok(()),
            // 304: already stopped
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(err(&format!("stop {id}"), e)),
        }
    }

    pub async fn start(&self, id: &str) -> DockerResult<()> {
        match self.docker.start_container(id, None::<StartContainerOptions>).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(err(&format!("start {id}"), e)),
        }
    }

    pub async fn remove(&self, id: &str) -> DockerResult<()> {
        match self.docker.remove_container(id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await
        {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(err(&format!("remove {id}"), e)),
        }
    }

    pub async fn create(&self, name: &str, body: ContainerCreateBody) -> DockerResult<String> {
        self.docker
            .create_container(
                Some(CreateContainerOptions { name: Some(name.to_string()), platform: String::new() }),
                body,
            )
            .await
            .map(|r| r.id)
            .map_err(|e| err(&format!("create {name}"), e))
    }

    /// The last `n` log lines of a container (for explaining a failed gate).
    pub async fn tail_logs(&self, id: &str, n: usize) -> Vec<String> {
        use futures::StreamExt;
        let opts = bollard::query_parameters::LogsOptions {
            stdout: true,
            stderr: true,
            tail: n.to_string(),
            ..Default::default()
        };
        let mut out = Vec::new();
        let mut s = self.docker.logs(id, Some(opts));
        while let Some(Ok(chunk)) = s.next().await {
            let text = chunk.to_string();
            out.extend(text.lines().map(|l| l.to_string()));
        }
        let skip = out.len().saturating_sub(n);
        out.split_off(skip)
    }
}

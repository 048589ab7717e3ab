//! `SMTP_CHECK` (keepalived check_smtp.c): connect, expect a 220 greeting, send
//! `HELO helo_name`, expect 250, send `QUIT`. Default helo_name: the host name.

use super::{Attempt, Target};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// `SMTP_CHECK { helo_name NAME }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmtpCheck {
    pub target: Target,
    pub helo_name: String,
}

/// Reads one SMTP reply (multi-line `NNN-` continuations included) and returns its code.
async fn reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<u16, String> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
            return Err("connection closed".into());
        }
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad reply {line:?}"))?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
}

impl SmtpCheck {
    /// One SMTP dialogue within `timeout`.
    pub async fn attempt(&self, timeout: Duration) -> Attempt {
        let describe = super::describe_addr(self.target.addr);
        match tokio::time::timeout(timeout, self.dialogue(timeout)).await {
            Ok(Ok(())) => Attempt::Ok,
            Ok(Err(e)) => Attempt::Failed(format!("SMTP_CHECK {describe}: {e}")),
            Err(_) => Attempt::Failed(format!("SMTP_CHECK {describe}: timeout")),
        }
    }

    async fn dialogue(&self, timeout: Duration) -> Result<(), String> {
        let s = self.target.connect(timeout).await?;
        let (rd, mut wr) = s.into_split();
        let mut rd = BufReader::new(rd);
        match reply(&mut rd).await? {
            220 => {}
            c => return Err(format!("bad greeting code {c}")),
        }
        wr.write_all(format!("HELO {}\r\n", self.helo_name).as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        match reply(&mut rd).await? {
            250 => {}
            c => return Err(format!("HELO answered {c}")),
        }
        let _ = wr.write_all(b"QUIT\r\n").await;
        Ok(())
    }
}

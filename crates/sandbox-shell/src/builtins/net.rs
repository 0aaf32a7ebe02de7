//! `wget` and `nslookup` as busybox prints them, and `curl` as curl 8 does, over the cluster
//! network the node gives the container ([`crate::net::Network`]).

use super::Call;
use crate::interp::Shell;
use crate::net::{ConnectError, Fetched, Network, Response, Url, UrlError, fetch};
use std::sync::Arc;
use std::time::Duration;

/// busybox wget's options that the sandbox honours.
#[derive(Default)]
struct WgetArgs {
    quiet: bool,
    output: Option<String>,
    timeout: Option<Duration>,
    urls: Vec<String>,
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("invalid number '{text}'"))
}

fn wget_args(args: &[String]) -> Result<WgetArgs, String> {
    let mut out = WgetArgs::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |inline: &str| -> Result<String, String> {
            if inline.is_empty() {
                iter.next().cloned().ok_or_else(|| "option requires an argument".to_string())
            } else {
                Ok(inline.to_string())
            }
        };
        match arg.as_str() {
            "-q" | "--quiet" => out.quiet = true,
            a if a.starts_with("--output-document=") => out.output = Some(a["--output-document=".len()..].to_string()),
            a if a.starts_with("--timeout=") => out.timeout = Some(seconds(&a["--timeout=".len()..])?),
            a if a.starts_with('-') && a.len() > 1 && !a.starts_with("--") => {
                // Letters may be grouped, and -O/-T take the rest of the word or the next one.
                let letters: Vec<char> = a.chars().skip(1).collect();
                for (i, c) in letters.iter().enumerate() {
                    let rest: String = letters[i + 1..].iter().collect();
                    match c {
                        'q' => out.quiet = true,
                        'O' => {
                            out.output = Some(value(&rest)?);
                            break;
                        }
                        'T' => {
                            out.timeout = Some(seconds(&value(&rest)?)?);
                            break;
                        }
                        other => return Err(format!("unrecognized option '-{other}'")),
                    }
                }
            }
            a if a.starts_with("--") => return Err(format!("unrecognized option '{a}'")),
            url => out.urls.push(url.to_string()),
        }
    }
    Ok(out)
}

fn network(sh: &Shell) -> Option<Arc<dyn Network>> {
    sh.ctx.network.clone()
}

/// busybox's progress bar line, finished.
fn bar(label: &str, size: usize) -> String {
    format!("{label:<20} 100% |{}| {size:>5}  0:00:00 ETA\n", "*".repeat(32))
}

/// busybox wget's message for a fetch that got no answer.
fn wget_failure(failed: Fetched, url: &Url) -> String {
    match failed {
        Fetched::BadAddress => format!("bad address '{}'", url.host),
        Fetched::Connect(ConnectError::Refused | ConnectError::TimedOut, address) => {
            format!("can't connect to remote host ({address}): Connection refused")
        }
        Fetched::TimedOut => "download timed out".into(),
        Fetched::Broken | Fetched::Answer(..) => "error getting response: Connection reset by peer".into(),
    }
}

pub(crate) async fn wget(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(net) = network(sh) else { return c.fail("bad address").await };
    let args = match wget_args(&c.args[1..]) {
        Ok(args) => args,
        Err(e) => return c.fail(e).await,
    };
    let Some(raw) = args.urls.first() else {
        return c.fail("missing URL").await;
    };
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(UrlError::Scheme(s)) if s == "https" => return c.fail("not an http or ftp url: ".to_string() + raw).await,
        Err(_) => return c.fail(format!("not an http or ftp url: {raw}")).await,
    };
    let to_stdout = args.output.as_deref() == Some("-");
    let file = args.output.clone().unwrap_or_else(|| url.file_name());
    let path = sh.abs(&file);
    if args.output.is_none() && sh.ctx.fs.read(&path).is_ok() {
        return c.fail(format!("can't open '{file}': File exists")).await;
    }
    let headers = [("User-Agent", "Wget".to_string())];
    let (response, address) = match fetch(net.as_ref(), "GET", &url, &headers, args.timeout).await {
        Fetched::Answer(response, address) => (response, address),
        failed => return c.fail(wget_failure(failed, &url)).await,
    };
    if !args.quiet {
        c.err(format!("Connecting to {} ({address}:{})\n", url.host_header(), url.port)).await;
    }
    if response.status >= 400 {
        return c.fail(format!("server returned error: {}", response.status_line)).await;
    }
    if !args.quiet {
        c.err(if to_stdout { "writing to stdout\n".to_string() } else { format!("saving to '{file}'\n") }).await;
    }
    if to_stdout {
        c.out(&response.body).await;
    } else if let Err(e) = sh.ctx.fs.write(&path, response.body.clone(), false) {
        return c.fail(format!("can't open '{file}': {}", crate::redirect::reason(&e))).await;
    }
    if !args.quiet {
        let label = if to_stdout { "-" } else { file.as_str() };
        let done = if to_stdout { "written to stdout\n".to_string() } else { format!("'{file}' saved\n") };
        c.err(bar(label, response.body.len()) + &done).await;
    }
    0
}

pub(crate) async fn nslookup(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(net) = network(sh) else { return c.fail("can't resolve").await };
    let Some(host) = c.args.iter().skip(1).find(|a| !a.starts_with('-')).cloned() else {
        c.err("BusyBox v1.36.1 multi-call binary.\n\nUsage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]\n")
            .await;
        return 1;
    };
    let server = net.dns_server();
    let mut out = format!("Server:\t\t{server}\nAddress:\t{server}:53\n\n");
    let code = match net.resolve(&host) {
        Some(found) => {
            out.push_str(&format!("Name:\t{}\nAddress: {}\n\n", found.name, found.address));
            0
        }
        None => {
            for name in net.search_names(&host) {
                out.push_str(&format!("** server can't find {name}: NXDOMAIN\n\n"));
            }
            1
        }
    };
    c.out(out).await;
    code
}

/// curl's options that the sandbox honours.
#[derive(Default)]
struct CurlArgs {
    silent: bool,
    show_error: bool,
    fail: bool,
    head: bool,
    verbose: bool,
    output: Option<String>,
    max_time: Option<Duration>,
    urls: Vec<String>,
}

fn curl_args(args: &[String]) -> Result<CurlArgs, (i32, String)> {
    let mut out = CurlArgs::default();
    let mut iter = args.iter();
    let bad = |what: &str| (2, format!("option {what}: is unknown"));
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--silent" => out.silent = true,
            "--show-error" => out.show_error = true,
            "--fail" => out.fail = true,
            "--head" => out.head = true,
            "--verbose" => out.verbose = true,
            "--output" => out.output = iter.next().cloned(),
            "--max-time" | "-m" => {
                let value = iter.next().ok_or_else(|| bad(arg))?;
                out.max_time = Some(
                    seconds(value).map_err(|_| (2, format!("option {arg}: expected a proper numerical parameter")))?,
                );
            }
            a if a.starts_with("--") => return Err(bad(a)),
            a if a.starts_with('-') && a.len() > 1 => {
                let letters: Vec<char> = a.chars().skip(1).collect();
                for (i, c) in letters.iter().enumerate() {
                    match c {
                        's' => out.silent = true,
                        'S' => out.show_error = true,
                        'f' => out.fail = true,
                        'I' => out.head = true,
                        'v' => out.verbose = true,
                        'o' => {
                            let rest: String = letters[i + 1..].iter().collect();
                            out.output = if rest.is_empty() { iter.next().cloned() } else { Some(rest) };
                            break;
                        }
                        _ => return Err(bad(a)),
                    }
                }
            }
            url => out.urls.push(url.to_string()),
        }
    }
    Ok(out)
}

/// curl 8's progress meter, finished, for a body of `size` bytes.
fn meter(size: usize) -> String {
    let header = "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n\
                  \x20                                Dload  Upload   Total   Spent    Left  Speed\n";
    format!(
        "{header}100 {size:>5}  100 {size:>5}    0     0   {size:>4}k      0 --:--:-- --:--:-- --:--:--  {size:>4}k\n"
    )
}

/// What `curl -v` prints on standard error before the body: the connection and both heads.
fn verbose_exchange(method: &str, url: &Url, address: &str, response: &Response) -> String {
    let mut v = format!("* Host {}:{} was resolved.\n*   Trying {address}:{}...\n", url.host, url.port, url.port);
    v.push_str(&format!("* Connected to {} ({address}) port {}\n", url.host, url.port));
    v.push_str(&format!("> {method} {} HTTP/1.1\n> Host: {}\n", url.path, url.host_header()));
    v.push_str("> User-Agent: curl/8.11.1\n> Accept: */*\n> \n");
    v.push_str(&format!("< {}\n", response.status_line));
    response.headers.iter().for_each(|(n, val)| v.push_str(&format!("< {n}: {val}\n")));
    v.push_str("< \n");
    v
}

/// What `curl -I` prints instead of the body: the status line and headers, as sent.
fn head_lines(response: &Response) -> Vec<u8> {
    let mut head = format!("{}\r\n", response.status_line);
    response.headers.iter().for_each(|(n, v)| head.push_str(&format!("{n}: {v}\r\n")));
    head.push_str("\r\n");
    head.into_bytes()
}

pub(crate) async fn curl(sh: &mut Shell, c: &mut Call) -> i32 {
    let c: &Call = c;
    let Some(net) = network(sh) else { return 6 };
    let args = match curl_args(&c.args[1..]) {
        Ok(args) => args,
        Err((code, message)) => {
            c.err(format!("curl: {message}\ncurl: try 'curl --help' or 'curl --manual' for more information\n")).await;
            return code;
        }
    };
    let quiet_errors = args.silent && !args.show_error;
    let fail = |code: i32, message: String| async move {
        if !quiet_errors {
            c.err(format!("curl: ({code}) {message}\n")).await;
        }
        code
    };
    let Some(raw) = args.urls.first() else {
        return fail(2, "no URL specified".into()).await;
    };
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(UrlError::Scheme(s)) => return fail(1, format!("Protocol \"{s}\" not supported")).await,
        Err(UrlError::Malformed) => return fail(3, "URL rejected: Bad hostname".to_string()).await,
    };
    let method = if args.head { "HEAD" } else { "GET" };
    let headers = [("User-Agent", "curl/8.11.1".to_string()), ("Accept", "*/*".to_string())];
    let (response, address) = match fetch(net.as_ref(), method, &url, &headers, args.max_time).await {
        Fetched::BadAddress => return fail(6, format!("Could not resolve host: {}", url.host)).await,
        Fetched::Connect(_, _) => {
            return fail(
                7,
                format!("Failed to connect to {} port {} after 0 ms: Couldn't connect to server", url.host, url.port),
            )
            .await;
        }
        Fetched::TimedOut => {
            let ms = args.max_time.map(|t| t.as_millis()).unwrap_or(0);
            return fail(28, format!("Connection timed out after {ms} milliseconds")).await;
        }
        Fetched::Broken => return fail(52, "Empty reply from server".into()).await,
        Fetched::Answer(response, address) => (response, address),
    };
    if args.verbose {
        c.err(verbose_exchange(method, &url, &address, &response)).await;
    }
    if args.fail && response.status >= 400 {
        return fail(22, format!("The requested URL returned error: {}", response.status)).await;
    }
    let body = if args.head { head_lines(&response) } else { response.body.clone() };
    if !args.silent && !args.verbose {
        c.err(meter(body.len())).await;
    }
    match &args.output {
        Some(file) if file != "-" => {
            let path = sh.abs(file);
            if let Err(e) = sh.ctx.fs.write(&path, body, false) {
                return fail(23, format!("Failure writing output to destination ({})", crate::redirect::reason(&e)))
                    .await;
            }
        }
        _ => c.out(&body).await,
    }
    if args.verbose {
        c.err(format!("* Connection #0 to host {} left intact\n", url.host)).await;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wget_takes_grouped_letters_and_glued_values() {
        let a = wget_args(&strings(&["-qO-", "-T", "2", "http://web"])).unwrap();
        assert!(a.quiet);
        assert_eq!(a.output.as_deref(), Some("-"));
        assert_eq!(a.timeout, Some(Duration::from_secs(2)));
        assert_eq!(a.urls, ["http://web"]);
        assert!(wget_args(&strings(&["-x", "web"])).is_err());
    }

    #[test]
    fn curl_takes_silent_show_error_and_max_time() {
        let a = curl_args(&strings(&["-sSf", "--max-time", "1.5", "-o", "out", "web"])).unwrap();
        assert!(a.silent && a.show_error && a.fail);
        assert_eq!(a.max_time, Some(Duration::from_millis(1500)));
        assert_eq!(a.output.as_deref(), Some("out"));
        assert_eq!(curl_args(&strings(&["--nope"])).err().map(|e| e.0), Some(2));
    }
}

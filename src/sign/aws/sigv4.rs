//! AWS's dialect over the key services' client.
//!
//! SigV4 signing (aws-sigv4) of each attempt, and AWS's error answers (KMS's JSON, STS's
//! XML) read into the call's code and message.

use std::time::SystemTime;

use anyhow::Context as _;
use aws_credential_types::Credentials as SigningCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;

use super::credentials::Credentials;
use crate::sign::rest::{self, Dialect, ServiceError};
use crate::transport::Answer;

/// How AWS words its errors, and which are transient.
pub const DIALECT: Dialect = Dialect {
    error_of,
    transient,
};

#[derive(Deserialize)]
struct JsonError {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct XmlErrorResponse {
    #[serde(rename = "Error")]
    error: XmlError,
}

#[derive(Deserialize)]
struct XmlError {
    #[serde(rename = "Code", default)]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

/// AWS's error code and message from an error answer: JSON (`__type`, `message`) as
/// KMS gives it, or XML (`<Error><Code>`) as STS gives it. The code loses any
/// `namespace#` prefix. Falls back on `X-Amzn-ErrorType`, then on the status text.
pub fn error_of(call: &str, answer: &Answer) -> ServiceError {
    let header = rest::header(answer, "x-amzn-errortype")
        .map(|t| t.split(':').next().unwrap_or(&t).to_string());
    let (code, message) = if let Ok(e) = serde_json::from_slice::<JsonError>(&answer.body) {
        (e.kind, e.message)
    } else if let Ok(e) = std::str::from_utf8(&answer.body)
        .map_err(|_| ())
        .and_then(|t| quick_xml::de::from_str::<XmlErrorResponse>(t).map_err(|_| ()))
    {
        (e.error.code, e.error.message)
    } else {
        (String::new(), String::new())
    };
    let code = code.rsplit('#').next().unwrap_or_default().to_string();
    let code = match (code.is_empty(), header) {
        (false, _) => code,
        (true, Some(h)) if !h.is_empty() => h,
        _ => rest::status_reason(answer),
    };
    ServiceError {
        request_id: answer
            .headers
            .get("x-amzn-requestid")
            .or_else(|| answer.headers.get("x-amz-request-id"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        ..ServiceError::answered(call, answer, code, message)
    }
}

/// Is this error answer worth another try? 5xx, 429, and AWS's own transient codes.
fn transient(status: StatusCode, code: &str) -> bool {
    rest::transient_status(status)
        || matches!(
            code,
            "ThrottlingException"
                | "Throttling"
                | "KMSInternalException"
                | "InternalFailure"
                | "ServiceUnavailable"
                | "RequestLimitExceeded"
                | "IDPCommunicationError"
        )
}

/// Signs `request` in place with SigV4 (aws-sigv4), for `service` in `region`.
pub fn sign_v4(
    request: &mut http::Request<Bytes>,
    credentials: &Credentials,
    region: &str,
    service: &str,
) -> anyhow::Result<()> {
    let identity = SigningCredentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.expose().to_string(),
        credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().to_string()),
        None,
        "app-token",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .context("SigV4 parameters")?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let url = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        url,
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )
    .context("a request SigV4 cannot sign")?;
    let (instructions, _signature) = sign(signable, &params)
        .context("SigV4 signing")?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn kms_json_errors_give_their_code_and_message() {
        let e = error_of(
            "KMS Sign",
            &answer(
                400,
                &[("x-amzn-requestid", "r-1")],
                r#"{"__type": "com.amazonaws.kms#NotFoundException", "message": "Alias alias/x is not found."}"#,
            ),
        );
        assert_eq!(e.code, "NotFoundException");
        assert_eq!(
            e.to_string(),
            "KMS Sign failed: NotFoundException: Alias alias/x is not found. (HTTP 400, request id r-1)"
        );
        let e = error_of(
            "KMS Sign",
            &answer(
                400,
                &[],
                r#"{"__type": "DisabledException", "Message": "disabled"}"#,
            ),
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("DisabledException", "disabled")
        );
    }

    #[test]
    fn sts_xml_errors_give_their_code_and_message() {
        let body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>r-2</RequestId></ErrorResponse>";
        let e = error_of("STS AssumeRoleWithWebIdentity", &answer(403, &[], body));
        assert_eq!(e.code, "AccessDenied");
        assert!(e.message.contains("Not authorized"), "{e}");
    }

    #[test]
    fn unreadable_errors_fall_back_on_the_header_then_the_status() {
        let e = error_of(
            "KMS Sign",
            &answer(
                400,
                &[("x-amzn-errortype", "AccessDeniedException:http://internal")],
                "<html>",
            ),
        );
        assert_eq!(e.code, "AccessDeniedException");
        let e = error_of("KMS Sign", &answer(502, &[], ""));
        assert_eq!(e.code, "Bad Gateway");
    }

    #[test]
    fn throttling_and_server_errors_are_transient_and_the_rest_final() {
        let t = |status, body: &str| {
            let a = answer(status, &[], body);
            transient(a.status, &error_of("KMS Sign", &a).code)
        };
        assert!(t(400, r#"{"__type":"ThrottlingException"}"#));
        assert!(t(500, r#"{"__type":"KMSInternalException"}"#));
        assert!(t(503, ""));
        assert!(!t(400, r#"{"__type":"NotFoundException"}"#));
        assert!(!t(400, r#"{"__type":"AccessDeniedException"}"#));
    }

    #[test]
    fn requests_are_signed_with_sigv4() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("session".into()));
        let mut r = http::Request::builder()
            .method("POST")
            .uri("https://kms.us-east-1.amazonaws.com/")
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "TrentService.Sign")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        sign_v4(&mut r, &creds, "us-east-1", "kms").unwrap();
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/us-east-1/kms/aws4_request"), "{auth}");
        assert!(
            auth.contains("x-amz-target"),
            "the target header is signed: {auth}"
        );
        assert_eq!(r.headers()["x-amz-security-token"], "session");
        assert!(r.headers().contains_key("x-amz-date"));
        assert!(!auth.contains("secret"));
    }
}

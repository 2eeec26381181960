//! radlens against a real PACS: an Orthanc server (Debian `orthanc` + `orthanc-dicomweb`) started
//! on free localhost ports with its own configuration and storage, a user with a password, the
//! DICOMweb plugin and a DICOM port. Echo, find (patient, modality, date, wildcard), get over
//! DICOMweb and DIMSE (every instance as uploaded), store an export and find it again, a wrong
//! password, a server stopped mid-retrieve. Without Orthanc the tests fail and say how to get it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use common::front::{Front, Mode};
use common::orthanc::{
    MR, MR_STUDY, Orthanc, PASSWORD, READER, READER_PASSWORD, REFUSED_PATIENT, USER, free_port,
    series_files,
};
use common::{data, os, radlens, stderr_text};
use radlens::pacs::{self, PacsError, Query, Retrieve, Server};
use sha2::{Digest, Sha256};

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The hash of each file's data set (what both transports must bring back unchanged).
fn data_set_hashes(files: &[PathBuf]) -> BTreeSet<String> {
    files
        .iter()
        .map(|f| sha(data_set(&std::fs::read(f).unwrap())))
        .collect()
}

/// The data set of a Part 10 file, after its file meta group.
fn data_set(bytes: &[u8]) -> &[u8] {
    assert_eq!(&bytes[128..132], b"DICM");
    let group = u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
    &bytes[144 + group..]
}

#[test]
#[allow(clippy::too_many_lines)] // one server, both transports, every operation
fn echo_find_get_and_store_over_dicomweb_and_dimse() {
    let orthanc = Orthanc::start();
    let sources = series_files(MR);
    assert_eq!(sources.len(), 35);
    orthanc.upload(&sources);
    // A second study, for paging.
    orthanc.upload(&[data("dicom/series/ct_3slice_with_seg/01.dcm")]);
    let uploaded: BTreeSet<String> = sources
        .iter()
        .map(|f| sha(&std::fs::read(f).unwrap()))
        .collect();
    let uploaded_data = data_set_hashes(&sources);

    for address in [orthanc.dicomweb(), orthanc.dimse()] {
        let server = Server::parse(&address).unwrap();
        let client = pacs::connect(&server).unwrap();
        client.echo().unwrap_or_else(|e| panic!("{e}"));

        // Find: by patient, modality, date range, wildcard name; nothing for another modality.
        let by = |query: Query| {
            client
                .find_studies(&query)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let found = by(Query {
            patient_id: Some("crlab".into()),
            ..Query::default()
        });
        assert_eq!(found.len(), 1, "{address}: {found:?}");
        assert_eq!(found[0].study_instance_uid, MR_STUDY);
        assert_eq!(found[0].modalities, ["MR"]);
        assert_eq!(found[0].study_date, "20220407");
        for query in [
            Query {
                modality: Some("MR".into()),
                ..Query::default()
            },
            Query {
                date: Some("20220101-20221231".into()),
                ..Query::default()
            },
            Query {
                patient_name: Some("HF*".into()),
                ..Query::default()
            },
        ] {
            assert_eq!(by(query.clone()).len(), 1, "{address}: {query:?}");
        }
        assert!(
            by(Query {
                modality: Some("PT".into()),
                ..Query::default()
            })
            .is_empty()
        );
        assert!(
            by(Query {
                date: Some("20230101-".into()),
                ..Query::default()
            })
            .is_empty()
        );
        // Paging: two studies, one per page.
        let all = by(Query::default());
        assert_eq!(all.len(), 2, "{address}: {all:?}");
        let pages: BTreeSet<String> = [0, 1]
            .into_iter()
            .map(|offset| {
                let page = by(Query {
                    limit: Some(1),
                    offset: Some(offset),
                    ..Query::default()
                });
                assert_eq!(page.len(), 1, "{address}: page {offset}");
                page[0].study_instance_uid.clone()
            })
            .collect();
        assert_eq!(pages.len(), 2, "{address}: the pages differ");
        let series = client.find_series(MR_STUDY).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].modality, "MR");
        assert_eq!(series[0].instances, Some(35));

        // Get: every instance as uploaded (DICOMweb returns the stored file; DIMSE the data set,
        // behind radlens' own file meta group).
        let out = tempfile::tempdir().unwrap();
        let got = client
            .retrieve(
                &Retrieve {
                    study_instance_uid: MR_STUDY.into(),
                    series_instance_uid: Some(series[0].series_instance_uid.clone()),
                },
                out.path(),
                &|_| {},
                &AtomicBool::new(false),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 35, "{address}");
        for file in &got {
            let bytes = std::fs::read(file).unwrap();
            if address.starts_with("http") {
                assert!(
                    uploaded.contains(&sha(&bytes)),
                    "{address}: {}",
                    file.display()
                );
            } else {
                assert!(
                    uploaded_data.contains(&sha(data_set(&bytes))),
                    "{address}: {}",
                    file.display()
                );
            }
        }
        let leftovers: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.to_string_lossy().ends_with(".dcm"))
            .collect();
        assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
    }

    // Store an export through each transport, and find it again.
    let dir = tempfile::tempdir().unwrap();
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/model/lesion.pt");
    let input = data(MR);
    let made = radlens(&[
        os("export"),
        os("--model"),
        os(&model),
        os(&input),
        os("--slice"),
        os("17"),
        os("--method"),
        os("gradcam"),
        os("--out-dir"),
        os(dir.path()),
        os("--format"),
        os("sc,pmap,sr"),
        os("--keep-identity"),
    ]);
    assert!(made.status.success(), "{}", stderr_text(&made));
    for (address, file) in [
        (orthanc.dicomweb(), "heatmap_pm.dcm"),
        (orthanc.dimse(), "report_sr.dcm"),
    ] {
        let stored = radlens(&[
            os("pacs"),
            os("store"),
            os(&address),
            os(&dir.path().join(file)),
        ]);
        assert!(
            stored.status.success(),
            "{address}: {}",
            stderr_text(&stored)
        );
    }
    let client = pacs::connect(&Server::parse(&orthanc.dicomweb()).unwrap()).unwrap();
    let modalities: BTreeSet<String> = client
        .find_series(MR_STUDY)
        .unwrap()
        .into_iter()
        .map(|s| s.modality)
        .collect();
    assert_eq!(
        modalities,
        BTreeSet::from(["MR".to_owned(), "SR".to_owned()]),
        "the map (modality MR) and the report are in the study"
    );
    let series = client.find_series(MR_STUDY).unwrap();
    assert_eq!(series.len(), 3, "{series:?}");
}

#[test]
fn a_wrong_password_an_unknown_study_and_a_closed_port_are_one_line_each() {
    let orthanc = Orthanc::start();
    let wrong = format!("http://{USER}:nope@127.0.0.1:{}/dicom-web", orthanc.http);
    let made = radlens(&[os("pacs"), os("echo"), os(&wrong)]);
    assert!(!made.status.success());
    let message = stderr_text(&made);
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains("nope"), "the password leaked: {message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");

    let client = pacs::connect(&Server::parse(&orthanc.dicomweb()).unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let missing = client
        .retrieve(
            &Retrieve {
                study_instance_uid: "1.2.3.4".into(),
                series_instance_uid: None,
            },
            out.path(),
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap_err();
    assert!(missing.to_string().contains("404"), "{missing}");

    let closed = format!("dimse://ORTHANC@127.0.0.1:{}", free_port());
    let made = radlens(&[os("pacs"), os("echo"), os(&closed)]);
    assert!(!made.status.success());
    let message = stderr_text(&made);
    assert!(message.contains("cannot connect"), "{message}");
}

#[test]
fn a_server_stopped_mid_retrieve_fails_cleanly_and_leaves_the_folder_untouched() {
    let orthanc = Orthanc::start();
    orthanc.upload(&series_files(MR));
    let out = tempfile::tempdir().unwrap();
    let before = out.path().join("mine.txt");
    std::fs::write(&before, "a file of the user's").unwrap();
    let client = pacs::connect(&Server::parse(&orthanc.dimse()).unwrap()).unwrap();
    // C-GET waits for radlens' answer to each instance: stopping the server after the first
    // one is sure to land mid-retrieve.
    let result = client.retrieve(
        &Retrieve {
            study_instance_uid: MR_STUDY.into(),
            series_instance_uid: None,
        },
        out.path(),
        &|received| {
            if received == 1 {
                orthanc.stop();
            }
        },
        &AtomicBool::new(false),
    );
    let error = result.expect_err("a retrieve from a stopped server cannot succeed");
    assert!(matches!(error, PacsError::Failed { .. }), "{error}");
    assert!(error.to_string().contains("ORTHANC@127.0.0.1"), "{error}");
    let left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["mine.txt"], "nothing half-retrieved remains");
    assert_eq!(
        std::fs::read_to_string(&before).unwrap(),
        "a file of the user's"
    );
}

#[test]
fn a_rejected_association_and_a_refused_query_are_one_line_each() {
    let orthanc = Orthanc::start();
    // The server checks the called AE title: another one is rejected at association.
    let wrong = format!("dimse://NOTORTHANC@127.0.0.1:{}", orthanc.dicom);
    let made = radlens(&[os("pacs"), os("echo"), os(&wrong)]);
    assert!(!made.status.success());
    let message = stderr_text(&made);
    assert!(message.contains("NOTORTHANC@127.0.0.1"), "{message}");
    assert!(message.contains("association"), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");

    // A calling AE title the server does not know may echo but not query (Orthanc aborts the
    // query of an AE title missing from DicomModalities).
    let stranger = |action: &str| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_radlens"));
        command
            .args(["pacs", action, &orthanc.dimse()])
            .env("RADLENS_AET", "STRANGER");
        if action == "find" {
            command.args(["--patient-id", "crlab"]);
        }
        command.output().unwrap()
    };
    assert!(stranger("echo").status.success());
    let refused = stranger("find");
    assert!(!refused.status.success());
    let message = stderr_text(&refused);
    assert!(
        message.contains("ORTHANC@127.0.0.1")
            && (message.contains("aborted") || message.contains("failed with status 0x")),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "{message}");

    // A C-FIND the server answers with a failure status: the status, one line.
    let failed = radlens_env(
        &[
            "pacs",
            "find",
            &orthanc.dimse(),
            "--patient-id",
            REFUSED_PATIENT,
        ],
        &[],
    );
    assert!(!failed.status.success());
    let message = stderr_text(&failed);
    assert!(message.contains("ORTHANC@127.0.0.1"), "{message}");
    assert!(
        message.contains("C-FIND failed with status 0x"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}

/// radlens with `args` and the environment `env`.
fn radlens_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_radlens"));
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn https_trusts_the_hospital_ca_it_is_given_and_no_other_certificate() {
    // Debian's Orthanc 1.10 resets every TLS connection of its own on this machine (curl's
    // too), so TLS is terminated as hospitals usually do it: a front (rustls, the test
    // certificate of tests/data/tls) before Orthanc's HTTP port.
    let orthanc = Orthanc::start();
    let sources = series_files(MR);
    orthanc.upload(&sources);
    let uploaded = data_set_hashes(&sources);
    let front = Front::start(orthanc.http, Mode::Tls);
    let address = format!(
        "https://{USER}:{PASSWORD}@127.0.0.1:{}/dicom-web",
        front.port
    );
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls/ca.pem");
    let trusted = [("RADLENS_PACS_CA", ca.as_os_str())];

    let found = radlens_env(
        &["pacs", "find", &address, "--patient-id", "crlab", "--json"],
        &trusted,
    );
    assert!(found.status.success(), "{}", stderr_text(&found));
    assert!(String::from_utf8_lossy(&found.stdout).contains(MR_STUDY));

    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let got = radlens_env(
        &[
            "pacs", "get", &address, "--study", MR_STUDY, "--out", out_dir,
        ],
        &trusted,
    );
    assert!(got.status.success(), "{}", stderr_text(&got));
    let files = names_in(out.path());
    assert_eq!(files.len(), 35, "{files:?}");
    for name in &files {
        let bytes = std::fs::read(out.path().join(name)).unwrap();
        assert!(uploaded.contains(&sha(data_set(&bytes))), "{name}");
    }

    // The public roots do not know the hospital's CA: refused, one line, no password.
    let untrusted = radlens_env(&["pacs", "echo", &address], &[]);
    assert!(!untrusted.status.success());
    let message = stderr_text(&untrusted);
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    assert!(
        !message.contains(PASSWORD),
        "the password leaked: {message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");

    // A CA file that holds no certificate is named.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("ca.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    let made = radlens_env(
        &["pacs", "echo", &address],
        &[("RADLENS_PACS_CA", bogus.as_os_str())],
    );
    assert!(!made.status.success());
    let message = stderr_text(&made);
    assert!(message.contains("no PEM certificate"), "{message}");
    assert!(message.contains("ca.pem"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
}

#[test]
fn a_user_who_may_not_store_gets_403_and_may_still_search() {
    let orthanc = Orthanc::start();
    orthanc.upload(&series_files(MR));
    let reader = format!(
        "http://{READER}:{READER_PASSWORD}@127.0.0.1:{}/dicom-web",
        orthanc.http
    );
    let found = radlens_env(&["pacs", "find", &reader, "--patient-id", "crlab"], &[]);
    assert!(found.status.success(), "{}", stderr_text(&found));

    let file = data("dicom/series/ct_3slice_with_seg/01.dcm");
    let stored = radlens_env(&["pacs", "store", &reader, file.to_str().unwrap()], &[]);
    assert!(!stored.status.success());
    let message = stderr_text(&stored);
    assert!(message.contains("403"), "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(
        !message.contains(READER_PASSWORD),
        "the password leaked: {message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[test]
fn an_answer_cut_mid_download_fails_in_one_line_and_leaves_the_folder_as_it_was() {
    let orthanc = Orthanc::start();
    orthanc.upload(&series_files(MR));
    // The connection drops after 1 MB of answer: mid multipart body of the 35-slice series.
    let front = Front::start(orthanc.http, Mode::CutAfter(1 << 20));
    let address = format!(
        "http://{USER}:{PASSWORD}@127.0.0.1:{}/dicom-web",
        front.port
    );
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("mine.txt"), "a file of the user's").unwrap();
    let got = radlens_env(
        &[
            "pacs",
            "get",
            &address,
            "--study",
            MR_STUDY,
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(!got.status.success());
    let message = stderr_text(&got);
    assert!(message.contains("retrieve broken off"), "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert_eq!(
        names_in(out.path()),
        ["mine.txt"],
        "nothing half-retrieved remains"
    );

    // The same cut under the viewer's cache: the series stays absent from it.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = pacs::Cache {
        root: cache_dir.path().to_path_buf(),
        cap_bytes: 1 << 30,
    };
    let server = Server::parse(&address).unwrap();
    let client = pacs::connect(&server).unwrap();
    let series = client.find_series(MR_STUDY).unwrap();
    let uid = &series[0].series_instance_uid;
    let result = cache.fetch(
        client.as_ref(),
        &server,
        MR_STUDY,
        uid,
        &|_| {},
        &AtomicBool::new(false),
    );
    assert!(result.is_err(), "a cut answer cannot fill the cache");
    assert!(cache.cached(&server, MR_STUDY, uid).is_none());
    let left: Vec<_> = walkdir::WalkDir::new(cache_dir.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(left.is_empty(), "half files in the cache: {left:?}");
}

#[test]
fn a_server_that_never_answers_times_out_in_one_line_on_both_transports() {
    let silent = Front::start(0, Mode::Silent);
    let timeout = [("RADLENS_PACS_TIMEOUT", std::ffi::OsStr::new("1"))];
    for address in [
        format!("http://127.0.0.1:{}/dicom-web", silent.port),
        format!("dimse://ORTHANC@127.0.0.1:{}", silent.port),
    ] {
        let made = radlens_env(&["pacs", "echo", &address], &timeout);
        assert!(!made.status.success(), "{address}");
        let message = stderr_text(&made);
        assert!(message.contains("timed out"), "{address}: {message}");
        assert!(message.contains("127.0.0.1"), "{address}: {message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}

#[test]
fn c_move_sends_the_series_to_radlens_listening_as_a_storage_scp() {
    let orthanc = Orthanc::start();
    let sources = series_files(MR);
    orthanc.upload(&sources);
    let uploaded = data_set_hashes(&sources);
    let out = tempfile::tempdir().unwrap();
    let made = radlens(&[
        os("pacs"),
        os("get"),
        os(&orthanc.dimse()),
        os("--study"),
        os(MR_STUDY),
        os("--out"),
        os(out.path()),
        os("--move-port"),
        os(&orthanc.move_port.to_string()),
    ]);
    assert!(made.status.success(), "{}", stderr_text(&made));
    let files: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 35, "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            uploaded.contains(&sha(data_set(&bytes))),
            "{}",
            file.display()
        );
    }
}

//! DIMSE (PS3.7) over dicom-ul associations: C-ECHO, C-FIND (Study Root, study and series
//! level), C-STORE, and C-GET (the server sends the instances back as C-STORE sub-operations on
//! the same association, so radlens proposes the storage classes with the SCP role), and C-MOVE
//! (radlens listens as a C-STORE SCP for the server's sub-associations). Command sets
//! are Implicit VR Little Endian; data sets use the negotiated transfer syntax, and received
//! data sets are written to disk byte for byte behind a fresh file meta group.

use crate::dicom::text;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_transfer_syntax_registry::{TransferSyntaxRegistry, entries};
use dicom_ul::association::SyncAssociation;
use dicom_ul::pdu::{PDataValue, PDataValueType};
use dicom_ul::{ClientAssociation, ClientAssociationOptions, Pdu};

use super::{Pacs, PacsError, Query, Retrieve, SeriesRow, Server, Stored, StudyRow};

/// Command Data Set Type: no data set follows.
const NO_DATA_SET: u16 = 0x0101;
const C_STORE_RQ: u16 = 0x0001;
const C_STORE_RSP: u16 = 0x8001;
const C_GET_RQ: u16 = 0x0010;
const C_GET_RSP: u16 = 0x8010;
const C_FIND_RQ: u16 = 0x0020;
const C_ECHO_RQ: u16 = 0x0030;
const C_MOVE_RQ: u16 = 0x0021;

/// Transfer syntaxes proposed for data sets (uncompressed first; the others are stored as they
/// come).
const TRANSFER_SYNTAXES: &[&str] = &[
    uids::EXPLICIT_VR_LITTLE_ENDIAN,
    uids::IMPLICIT_VR_LITTLE_ENDIAN,
];

/// The storage classes a C-GET accepts back.
const STORAGE_CLASSES: &[&str] = &[
    uids::CT_IMAGE_STORAGE,
    uids::ENHANCED_CT_IMAGE_STORAGE,
    uids::LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE,
    uids::MR_IMAGE_STORAGE,
    uids::ENHANCED_MR_IMAGE_STORAGE,
    uids::LEGACY_CONVERTED_ENHANCED_MR_IMAGE_STORAGE,
    uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE,
    uids::ENHANCED_PET_IMAGE_STORAGE,
    uids::NUCLEAR_MEDICINE_IMAGE_STORAGE,
    uids::COMPUTED_RADIOGRAPHY_IMAGE_STORAGE,
    uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
    uids::DIGITAL_MAMMOGRAPHY_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
    uids::X_RAY_ANGIOGRAPHIC_IMAGE_STORAGE,
    uids::ULTRASOUND_IMAGE_STORAGE,
    uids::ULTRASOUND_MULTI_FRAME_IMAGE_STORAGE,
    uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
    uids::MULTI_FRAME_GRAYSCALE_BYTE_SECONDARY_CAPTURE_IMAGE_STORAGE,
    uids::MULTI_FRAME_GRAYSCALE_WORD_SECONDARY_CAPTURE_IMAGE_STORAGE,
    uids::SEGMENTATION_STORAGE,
    uids::PARAMETRIC_MAP_STORAGE,
    uids::BASIC_TEXT_SR_STORAGE,
    uids::ENHANCED_SR_STORAGE,
    uids::COMPREHENSIVE_SR_STORAGE,
    uids::COMPREHENSIVE3_DSR_STORAGE,
    uids::KEY_OBJECT_SELECTION_DOCUMENT_STORAGE,
    uids::GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
    uids::RT_STRUCTURE_SET_STORAGE,
    uids::RT_DOSE_STORAGE,
    uids::RAW_DATA_STORAGE,
];

/// A DIMSE peer.
pub struct Dimse {
    called_aet: String,
    calling_aet: String,
    address: String,
    name: String,
}

/// Either end of an association, as the message helpers use it.
/// Why a PDU did not arrive: a timeout in words, anything else as dicom-ul says it.
fn receive_error(e: &(dyn std::error::Error + 'static)) -> String {
    if super::timed_out(e) {
        super::timed_out_cause()
    } else {
        e.to_string()
    }
}

trait Link {
    fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), String>;
    fn receive_pdu(&mut self) -> Result<Pdu, String>;
    fn write_data(&mut self, context: u8, data: &[u8]) -> std::io::Result<()>;
    fn contexts(&self) -> &[dicom_ul::pdu::PresentationContextNegotiated];
}

/// Both ends of an association speak the same way: radlens' client association and the one it
/// accepts for C-MOVE.
impl<A> Link for A
where
    A: SyncAssociation<TcpStream> + dicom_ul::association::Association,
{
    fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), String> {
        SyncAssociation::send(self, pdu).map_err(|e| e.to_string())
    }
    fn receive_pdu(&mut self) -> Result<Pdu, String> {
        SyncAssociation::receive(self).map_err(|e| receive_error(&e))
    }
    fn write_data(&mut self, context: u8, data: &[u8]) -> std::io::Result<()> {
        let mut writer = SyncAssociation::send_pdata(self, context);
        writer.write_all(data)?;
        writer.finish()
    }
    fn contexts(&self) -> &[dicom_ul::pdu::PresentationContextNegotiated] {
        self.presentation_contexts()
    }
}

/// One DIMSE message: its presentation context, command set, and data set bytes (if any).
struct Message {
    context: u8,
    command: InMemDicomObject,
    data: Option<Vec<u8>>,
}

impl Dimse {
    #[must_use]
    pub fn new(server: &Server) -> Self {
        let (called_aet, calling_aet, address) = match server {
            Server::Dimse {
                called_aet,
                host,
                port,
                calling_aet,
            } => (
                called_aet.clone(),
                calling_aet.clone(),
                format!("{host}:{port}"),
            ),
            Server::DicomWeb { .. } => (String::new(), String::new(), String::new()),
        };
        Self {
            called_aet,
            calling_aet,
            address,
            name: server.name(),
        }
    }

    fn failed(&self, cause: impl std::fmt::Display) -> PacsError {
        PacsError::Failed {
            server: self.name.clone(),
            cause: cause.to_string(),
        }
    }

    /// An association proposing `contexts` (abstract syntax, transfer syntaxes), with the SCP
    /// role for the classes in `scp`.
    fn associate(
        &self,
        contexts: &[(&str, Vec<&str>)],
        scp: &[&str],
    ) -> Result<ClientAssociation<TcpStream>, PacsError> {
        let mut options = ClientAssociationOptions::new()
            .calling_ae_title(self.calling_aet.as_str())
            .called_ae_title(self.called_aet.as_str())
            .connection_timeout(super::timeout().min(Duration::from_secs(10)))
            .read_timeout(super::timeout())
            .max_pdu_length(65536);
        for (abstract_syntax, syntaxes) in contexts {
            options = options.with_presentation_context(*abstract_syntax, syntaxes.clone());
        }
        for class in scp {
            options = options.with_role_selection(*class, false, true);
        }
        options.establish(self.address.as_str()).map_err(|e| {
            let text = e.to_string();
            let cause = if super::timed_out(&e) {
                super::timed_out_cause()
            } else if text.contains("refused") || text.contains("onnect") {
                format!("cannot connect ({text})")
            } else if text.to_lowercase().contains("reject") {
                format!("association rejected ({text})")
            } else {
                format!("association failed ({text})")
            };
            self.failed(cause)
        })
    }

    /// The accepted presentation context of `abstract_syntax`: its id and transfer syntax.
    fn context(
        &self,
        association: &ClientAssociation<TcpStream>,
        abstract_syntax: &str,
    ) -> Result<(u8, String), PacsError> {
        association
            .presentation_contexts()
            .iter()
            .find(|pc| pc.abstract_syntax.trim_end_matches('\0') == abstract_syntax)
            .map(|pc| (pc.id, pc.transfer_syntax.trim_end_matches('\0').to_owned()))
            .ok_or_else(|| self.failed(format!("the server does not accept {abstract_syntax}")))
    }

    fn send_command(
        &self,
        association: &mut impl Link,
        context: u8,
        command: &InMemDicomObject,
    ) -> Result<(), PacsError> {
        let mut bytes = Vec::new();
        command
            .write_dataset_with_ts(&mut bytes, &entries::IMPLICIT_VR_LITTLE_ENDIAN.erased())
            .map_err(|e| self.failed(format!("command not encodable: {e}")))?;
        association
            .send_pdu(&Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: context,
                    value_type: PDataValueType::Command,
                    is_last: true,
                    data: bytes,
                }],
            })
            .map_err(|e| self.failed(format!("send failed ({e})")))
    }

    fn send_data(
        &self,
        association: &mut impl Link,
        context: u8,
        data: &[u8],
    ) -> Result<(), PacsError> {
        association
            .write_data(context, data)
            .map_err(|e| self.failed(format!("send failed ({e})")))
    }

    /// The next message: command set and, unless it says none follows, its data set.
    fn receive(&self, association: &mut impl Link) -> Result<Message, PacsError> {
        let mut command_bytes = Vec::new();
        let mut command: Option<InMemDicomObject> = None;
        let mut data = Vec::new();
        let mut context;
        loop {
            let pdu = association
                .receive_pdu()
                .map_err(|e| self.failed(format!("no answer ({e})")))?;
            let values = match pdu {
                Pdu::PData { data } => data,
                Pdu::AbortRQ { .. } => return Err(self.failed("association aborted by the server")),
                Pdu::ReleaseRQ => return Err(self.failed("the server released the association")),
                other => return Err(self.failed(format!("unexpected {other:?}"))),
            };
            for value in values {
                context = value.presentation_context_id;
                match value.value_type {
                    PDataValueType::Command => {
                        command_bytes.extend_from_slice(&value.data);
                        if value.is_last {
                            let parsed = InMemDicomObject::read_dataset_with_ts(
                                &command_bytes[..],
                                &entries::IMPLICIT_VR_LITTLE_ENDIAN.erased(),
                            )
                            .map_err(|e| self.failed(format!("unreadable command ({e})")))?;
                            if uint(&parsed, tags::COMMAND_DATA_SET_TYPE) == Some(NO_DATA_SET) {
                                return Ok(Message {
                                    context,
                                    command: parsed,
                                    data: None,
                                });
                            }
                            command = Some(parsed);
                        }
                    }
                    PDataValueType::Data => {
                        data.extend_from_slice(&value.data);
                        if value.is_last
                            && let Some(command) = command.take()
                        {
                            return Ok(Message {
                                context,
                                command,
                                data: Some(std::mem::take(&mut data)),
                            });
                        }
                    }
                }
            }
        }
    }

    /// Sends a query/retrieve request (`field`: C-FIND, C-GET or C-MOVE) on `model`'s context:
    /// its command set (with `extra` elements) and `identifier` in the negotiated syntax, which
    /// it returns (the answers' identifiers use it too).
    fn send_request(
        &self,
        association: &mut ClientAssociation<TcpStream>,
        model: &str,
        field: u16,
        identifier: &InMemDicomObject,
        extra: &[(Tag, VR, PrimitiveValue)],
    ) -> Result<&'static dicom_encoding::TransferSyntax, PacsError> {
        let (context, syntax) = self.context(association, model)?;
        let ts = transfer_syntax(&syntax).ok_or_else(|| self.failed("unknown transfer syntax"))?;
        let mut elements = vec![
            (tags::AFFECTED_SOP_CLASS_UID, VR::UI, str_value(model)),
            (tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(field)),
            (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(1u16)),
            (tags::PRIORITY, VR::US, PrimitiveValue::from(0u16)),
            (
                tags::COMMAND_DATA_SET_TYPE,
                VR::US,
                PrimitiveValue::from(1u16),
            ),
        ];
        elements.extend_from_slice(extra);
        self.send_command(association, context, &command_set(&elements))?;
        let mut bytes = Vec::new();
        identifier
            .write_dataset_with_ts(&mut bytes, ts)
            .map_err(|e| self.failed(format!("query not encodable: {e}")))?;
        self.send_data(association, context, &bytes)?;
        Ok(ts)
    }

    /// Status check of a final response: `Ok` for success and warnings.
    fn status(&self, command: &InMemDicomObject, what: &str) -> Result<u16, PacsError> {
        let status = uint(command, tags::STATUS).unwrap_or(0xFFFF);
        match status {
            0x0000 | 0xFF00 | 0xFF01 => Ok(status),
            s if s & 0xF000 == 0xB000 || s == 0x0107 || s == 0x0116 => Ok(status),
            s => {
                let comment = text(command, tags::ERROR_COMMENT);
                Err(self.failed(format!(
                    "{what} failed with status 0x{s:04X}{}",
                    if comment.is_empty() {
                        String::new()
                    } else {
                        format!(" ({comment})")
                    }
                )))
            }
        }
    }

    /// Runs a C-FIND with `identifier` and returns the matches.
    fn find(&self, identifier: &InMemDicomObject) -> Result<Vec<InMemDicomObject>, PacsError> {
        let model = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND;
        let mut association = self.associate(&[(model, TRANSFER_SYNTAXES.to_vec())], &[])?;
        let ts = self.send_request(&mut association, model, C_FIND_RQ, identifier, &[])?;
        let mut matches = Vec::new();
        loop {
            let message = self.receive(&mut association)?;
            let status = self.status(&message.command, "C-FIND")?;
            if status == 0xFF00 || status == 0xFF01 {
                if let Some(data) = message.data {
                    let found = InMemDicomObject::read_dataset_with_ts(&data[..], ts)
                        .map_err(|e| self.failed(format!("unreadable match ({e})")))?;
                    matches.push(found);
                }
                continue;
            }
            break;
        }
        let _ = association.release();
        Ok(matches)
    }
}

impl Pacs for Dimse {
    fn echo(&self) -> Result<(), PacsError> {
        let mut association =
            self.associate(&[(uids::VERIFICATION, TRANSFER_SYNTAXES.to_vec())], &[])?;
        let (context, _) = self.context(&association, uids::VERIFICATION)?;
        let command = command_set(&[
            (
                tags::AFFECTED_SOP_CLASS_UID,
                VR::UI,
                str_value(uids::VERIFICATION),
            ),
            (tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(C_ECHO_RQ)),
            (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(1u16)),
            (
                tags::COMMAND_DATA_SET_TYPE,
                VR::US,
                PrimitiveValue::from(NO_DATA_SET),
            ),
        ]);
        self.send_command(&mut association, context, &command)?;
        let message = self.receive(&mut association)?;
        self.status(&message.command, "C-ECHO")?;
        let _ = association.release();
        Ok(())
    }

    fn find_studies(&self, query: &Query) -> Result<Vec<StudyRow>, PacsError> {
        let mut identifier = InMemDicomObject::new_empty();
        put(&mut identifier, tags::QUERY_RETRIEVE_LEVEL, VR::CS, "STUDY");
        for (tag, vr, value) in [
            (tags::PATIENT_ID, VR::LO, &query.patient_id),
            (tags::PATIENT_NAME, VR::PN, &query.patient_name),
            (tags::MODALITIES_IN_STUDY, VR::CS, &query.modality),
            (tags::STUDY_DATE, VR::DA, &query.date),
            (tags::ACCESSION_NUMBER, VR::SH, &query.accession_number),
            (tags::STUDY_DESCRIPTION, VR::LO, &query.description),
        ] {
            put(&mut identifier, tag, vr, value.as_deref().unwrap_or(""));
        }
        for (tag, vr) in [
            (tags::STUDY_INSTANCE_UID, VR::UI),
            (tags::NUMBER_OF_STUDY_RELATED_SERIES, VR::IS),
            (tags::NUMBER_OF_STUDY_RELATED_INSTANCES, VR::IS),
        ] {
            identifier.put(DataElement::empty(tag, vr));
        }
        let matches = self.find(&identifier)?;
        let offset = query.offset.unwrap_or(0);
        Ok(matches
            .iter()
            .skip(offset)
            .take(query.limit.unwrap_or(usize::MAX))
            .map(|m| StudyRow {
                study_instance_uid: text(m, tags::STUDY_INSTANCE_UID),
                patient_id: text(m, tags::PATIENT_ID),
                patient_name: text(m, tags::PATIENT_NAME),
                study_date: text(m, tags::STUDY_DATE),
                study_description: text(m, tags::STUDY_DESCRIPTION),
                accession_number: text(m, tags::ACCESSION_NUMBER),
                modalities: text(m, tags::MODALITIES_IN_STUDY)
                    .split('\\')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                series: text(m, tags::NUMBER_OF_STUDY_RELATED_SERIES).parse().ok(),
                instances: text(m, tags::NUMBER_OF_STUDY_RELATED_INSTANCES)
                    .parse()
                    .ok(),
            })
            .collect())
    }

    fn find_series(&self, study_instance_uid: &str) -> Result<Vec<SeriesRow>, PacsError> {
        let mut identifier = InMemDicomObject::new_empty();
        put(
            &mut identifier,
            tags::QUERY_RETRIEVE_LEVEL,
            VR::CS,
            "SERIES",
        );
        put(
            &mut identifier,
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            study_instance_uid,
        );
        for (tag, vr) in [
            (tags::SERIES_INSTANCE_UID, VR::UI),
            (tags::MODALITY, VR::CS),
            (tags::SERIES_DESCRIPTION, VR::LO),
            (tags::SERIES_NUMBER, VR::IS),
            (tags::NUMBER_OF_SERIES_RELATED_INSTANCES, VR::IS),
        ] {
            identifier.put(DataElement::empty(tag, vr));
        }
        let matches = self.find(&identifier)?;
        Ok(matches
            .iter()
            .map(|m| SeriesRow {
                study_instance_uid: study_instance_uid.to_owned(),
                series_instance_uid: text(m, tags::SERIES_INSTANCE_UID),
                modality: text(m, tags::MODALITY),
                series_description: text(m, tags::SERIES_DESCRIPTION),
                series_number: text(m, tags::SERIES_NUMBER).parse().ok(),
                instances: text(m, tags::NUMBER_OF_SERIES_RELATED_INSTANCES)
                    .parse()
                    .ok(),
            })
            .collect())
    }

    #[allow(clippy::too_many_lines)] // C-GET: request, then sub-operations until the final answer
    fn retrieve(
        &self,
        what: &Retrieve,
        dir: &Path,
        progress: &dyn Fn(usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<PathBuf>, PacsError> {
        let model = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_GET;
        let mut contexts = vec![(model, TRANSFER_SYNTAXES.to_vec())];
        contexts.extend(
            STORAGE_CLASSES
                .iter()
                .map(|class| (*class, TRANSFER_SYNTAXES.to_vec())),
        );
        let mut association = self.associate(&contexts, STORAGE_CLASSES)?;
        let identifier = retrieve_identifier(what);
        self.send_request(&mut association, model, C_GET_RQ, &identifier, &[])?;
        let staging = super::staging_dir(dir)?;
        let mut received = Vec::new();
        loop {
            if cancel.load(Ordering::Relaxed) {
                let _ = association.abort();
                return Err(PacsError::Cancelled {
                    server: self.name.clone(),
                });
            }
            let message = self.receive(&mut association)?;
            match uint(&message.command, tags::COMMAND_FIELD) {
                Some(C_STORE_RQ) => {
                    let path = staging.path().join(format!("{:06}.part", received.len()));
                    self.store_received(&mut association, &message, &path)?;
                    received.push(path);
                    progress(received.len());
                }
                Some(C_GET_RSP) => {
                    let status = self.status(&message.command, "C-GET")?;
                    if status == 0xFF00 {
                        continue;
                    }
                    let failed =
                        uint(&message.command, tags::NUMBER_OF_FAILED_SUBOPERATIONS).unwrap_or(0);
                    if failed > 0 || status & 0xF000 == 0xB000 {
                        let _ = association.release();
                        return Err(self.failed(format!(
                            "C-GET: {failed} of the instances could not be sent (status 0x{status:04X})"
                        )));
                    }
                    break;
                }
                other => {
                    let _ = association.abort();
                    return Err(self.failed(format!("unexpected command field {other:?}")));
                }
            }
        }
        let _ = association.release();
        if received.is_empty() {
            return Err(self.failed("the retrieve returned no instance"));
        }
        super::publish(&received, dir, &self.name)
    }

    fn store(&self, files: &[PathBuf]) -> Result<Vec<Stored>, PacsError> {
        // Each file's class, instance and transfer syntax, from its meta group.
        let mut meta = Vec::with_capacity(files.len());
        for path in files {
            let file = dicom_object::OpenFileOptions::new()
                .open_file(path)
                .map_err(|e| PacsError::Write {
                    cause: format!("not a DICOM file ({e})"),
                    path: path.clone(),
                })?;
            let m = file.meta();
            meta.push((
                m.media_storage_sop_class_uid()
                    .trim_end_matches('\0')
                    .to_owned(),
                m.media_storage_sop_instance_uid()
                    .trim_end_matches('\0')
                    .to_owned(),
                m.transfer_syntax().trim_end_matches('\0').to_owned(),
            ));
        }
        let mut classes: Vec<(String, Vec<&str>)> = Vec::new();
        for (class, _, syntax) in &meta {
            if !classes.iter().any(|(c, _)| c == class) {
                let mut syntaxes: Vec<&str> = vec![syntax.as_str()];
                syntaxes.extend(TRANSFER_SYNTAXES.iter().filter(|s| **s != syntax.as_str()));
                classes.push((class.clone(), syntaxes));
            }
        }
        let contexts: Vec<(&str, Vec<&str>)> = classes
            .iter()
            .map(|(c, s)| (c.as_str(), s.clone()))
            .collect();
        let mut association = self.associate(&contexts, &[])?;
        let mut outcomes = Vec::with_capacity(files.len());
        for (index, (path, (class, instance, syntax))) in files.iter().zip(&meta).enumerate() {
            let outcome = self.store_one(&mut association, path, class, instance, syntax, index);
            outcomes.push(Stored {
                file: path.clone(),
                sop_instance_uid: instance.clone(),
                outcome,
            });
        }
        let _ = association.release();
        Ok(outcomes)
    }
}

impl Dimse {
    /// Sends one file as a C-STORE on `association`; its status, or why it was not sent.
    fn store_one(
        &self,
        association: &mut ClientAssociation<TcpStream>,
        path: &Path,
        class: &str,
        instance: &str,
        syntax: &str,
        index: usize,
    ) -> Result<(), String> {
        let (context, accepted) = self
            .context(association, class)
            .map_err(|e| e.to_string())?;
        if accepted != syntax {
            let from = transfer_syntax(syntax);
            if from.is_none_or(dicom_encoding::TransferSyntax::is_encapsulated_pixel_data) {
                return Err(format!(
                    "the server does not accept its transfer syntax {syntax}"
                ));
            }
        }
        let ts = transfer_syntax(&accepted).ok_or("unknown transfer syntax")?;
        let object = dicom_object::open_file(path).map_err(|e| e.to_string())?;
        let mut data = Vec::new();
        object
            .write_dataset_with_ts(&mut data, ts)
            .map_err(|e| e.to_string())?;
        let message_id = u16::try_from(index % 0xFFFF + 1).unwrap_or(1);
        let request = command_set(&[
            (tags::AFFECTED_SOP_CLASS_UID, VR::UI, str_value(class)),
            (
                tags::COMMAND_FIELD,
                VR::US,
                PrimitiveValue::from(C_STORE_RQ),
            ),
            (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(message_id)),
            (tags::PRIORITY, VR::US, PrimitiveValue::from(0u16)),
            (
                tags::COMMAND_DATA_SET_TYPE,
                VR::US,
                PrimitiveValue::from(0u16),
            ),
            (tags::AFFECTED_SOP_INSTANCE_UID, VR::UI, str_value(instance)),
        ]);
        self.send_command(association, context, &request)
            .map_err(|e| e.to_string())?;
        self.send_data(association, context, &data)
            .map_err(|e| e.to_string())?;
        let response = self.receive(association).map_err(|e| e.to_string())?;
        self.status(&response.command, "C-STORE")
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Writes the instance of a C-STORE request to `path` and answers it (failure status when it
    /// could not be written).
    fn store_received(
        &self,
        link: &mut impl Link,
        message: &Message,
        path: &Path,
    ) -> Result<(), PacsError> {
        let stored = self.write_received(link, message, path);
        let status: u16 = if stored.is_ok() { 0x0000 } else { 0xA700 };
        let response = command_set(&[
            (
                tags::AFFECTED_SOP_CLASS_UID,
                VR::UI,
                str_value(&text(&message.command, tags::AFFECTED_SOP_CLASS_UID)),
            ),
            (
                tags::COMMAND_FIELD,
                VR::US,
                PrimitiveValue::from(C_STORE_RSP),
            ),
            (
                tags::MESSAGE_ID_BEING_RESPONDED_TO,
                VR::US,
                PrimitiveValue::from(uint(&message.command, tags::MESSAGE_ID).unwrap_or(0)),
            ),
            (
                tags::COMMAND_DATA_SET_TYPE,
                VR::US,
                PrimitiveValue::from(NO_DATA_SET),
            ),
            (tags::STATUS, VR::US, PrimitiveValue::from(status)),
            (
                tags::AFFECTED_SOP_INSTANCE_UID,
                VR::UI,
                str_value(&text(&message.command, tags::AFFECTED_SOP_INSTANCE_UID)),
            ),
        ]);
        self.send_command(link, message.context, &response)?;
        stored
    }

    /// C-MOVE: asks the server to send `what` to radlens' own AE title, and receives the
    /// instances as a C-STORE SCP listening on `port` (the server must know radlens' AE title
    /// with this host and port). Complete or absent in `dir`, as a C-GET.
    pub fn retrieve_by_move(
        &self,
        what: &Retrieve,
        dir: &Path,
        port: u16,
        progress: &dyn Fn(usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<PathBuf>, PacsError> {
        let listener = std::net::TcpListener::bind(("0.0.0.0", port))
            .map_err(|e| self.failed(format!("cannot listen on port {port} ({e})")))?;
        listener.set_nonblocking(true).map_err(|e| self.failed(e))?;
        let staging = super::staging_dir(dir)?;
        let stop = AtomicBool::new(false);
        let received = std::sync::Mutex::new(Vec::<PathBuf>::new());
        let scp_error = std::sync::Mutex::new(None::<PacsError>);
        let result = std::thread::scope(|scope| {
            let request = scope.spawn(|| {
                let result = self.request_move(what, cancel);
                // Let the last sub-association finish before the listener stops.
                std::thread::sleep(Duration::from_millis(200));
                stop.store(true, Ordering::Relaxed);
                result
            });
            if let Err(e) = self.listen(&listener, staging.path(), &stop, &received, progress) {
                *scp_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                stop.store(true, Ordering::Relaxed);
            }
            request
                .join()
                .unwrap_or_else(|_| Err(self.failed("the move request stopped unexpectedly")))
        });
        result?;
        if let Some(e) = scp_error
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(e);
        }
        let received = received
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if received.is_empty() {
            return Err(self.failed("the move sent no instance"));
        }
        super::publish(&received, dir, &self.name)
    }

    /// The C-STORE SCP of a move: accepts associations until `stop`, storing each instance.
    fn listen(
        &self,
        listener: &std::net::TcpListener,
        staging: &Path,
        stop: &AtomicBool,
        received: &std::sync::Mutex<Vec<PathBuf>>,
        progress: &dyn Fn(usize),
    ) -> Result<(), PacsError> {
        let mut options = dicom_ul::ServerAssociationOptions::new()
            .accept_any()
            .ae_title(self.calling_aet.as_str())
            .max_pdu_length(65536);
        for class in STORAGE_CLASSES {
            options = options.with_abstract_syntax(*class);
        }
        while !stop.load(Ordering::Relaxed) {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                Err(e) => return Err(self.failed(format!("listener failed ({e})"))),
            };
            stream.set_nonblocking(false).map_err(|e| self.failed(e))?;
            let mut association = options
                .establish(stream)
                .map_err(|e| self.failed(format!("incoming association failed ({e})")))?;
            loop {
                // The sender released (or dropped) its association: wait for the next.
                let Ok(message) = self.receive(&mut association) else {
                    break;
                };
                if uint(&message.command, tags::COMMAND_FIELD) != Some(C_STORE_RQ) {
                    continue;
                }
                let mut list = received
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let path = staging.join(format!("{:06}.part", list.len()));
                self.store_received(&mut association, &message, &path)?;
                list.push(path);
                progress(list.len());
            }
            let _ = association.send(&Pdu::ReleaseRP);
        }
        Ok(())
    }

    /// Sends the C-MOVE request and waits for its final answer.
    fn request_move(&self, what: &Retrieve, cancel: &AtomicBool) -> Result<(), PacsError> {
        let model = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_MOVE;
        let mut association = self.associate(&[(model, TRANSFER_SYNTAXES.to_vec())], &[])?;
        let destination = [(
            tags::MOVE_DESTINATION,
            VR::AE,
            PrimitiveValue::from(self.calling_aet.as_str()),
        )];
        self.send_request(
            &mut association,
            model,
            C_MOVE_RQ,
            &retrieve_identifier(what),
            &destination,
        )?;
        loop {
            if cancel.load(Ordering::Relaxed) {
                let _ = association.abort();
                return Err(PacsError::Cancelled {
                    server: self.name.clone(),
                });
            }
            let message = self.receive(&mut association)?;
            let status = self.status(&message.command, "C-MOVE")?;
            if status == 0xFF00 {
                continue;
            }
            let failed = uint(&message.command, tags::NUMBER_OF_FAILED_SUBOPERATIONS).unwrap_or(0);
            let _ = association.release();
            if failed > 0 || status & 0xF000 == 0xB000 {
                return Err(self.failed(format!(
                    "C-MOVE: {failed} of the instances could not be sent (status 0x{status:04X})"
                )));
            }
            return Ok(());
        }
    }

    /// Writes a C-STORE sub-operation's data set, as received, behind a file meta group.
    fn write_received(
        &self,
        association: &impl Link,
        message: &Message,
        path: &Path,
    ) -> Result<(), PacsError> {
        let syntax = association
            .contexts()
            .iter()
            .find(|pc| pc.id == message.context)
            .map(|pc| pc.transfer_syntax.trim_end_matches('\0').to_owned())
            .ok_or_else(|| self.failed("an instance on an unknown presentation context"))?;
        let meta = FileMetaTableBuilder::new()
            .media_storage_sop_class_uid(text(&message.command, tags::AFFECTED_SOP_CLASS_UID))
            .media_storage_sop_instance_uid(text(&message.command, tags::AFFECTED_SOP_INSTANCE_UID))
            .transfer_syntax(syntax)
            .implementation_class_uid(crate::export::IMPLEMENTATION_CLASS_UID)
            .build()
            .map_err(|e| self.failed(format!("file meta group: {e}")))?;
        let write = || -> std::io::Result<()> {
            let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
            file.write_all(&[0u8; 128])?;
            file.write_all(b"DICM")?;
            meta.write(&mut file).map_err(std::io::Error::other)?;
            file.write_all(message.data.as_deref().unwrap_or_default())?;
            file.into_inner().map_err(std::io::Error::other)?.sync_all()
        };
        write().map_err(|e| PacsError::Write {
            cause: e.to_string(),
            path: path.to_owned(),
        })
    }
}

fn command_set(elements: &[(Tag, VR, PrimitiveValue)]) -> InMemDicomObject {
    InMemDicomObject::command_from_element_iter(
        elements
            .iter()
            .map(|(tag, vr, value)| DataElement::new(*tag, *vr, value.clone())),
    )
}

/// A UI value, padded as the encoder wants it.
fn str_value(value: &str) -> PrimitiveValue {
    PrimitiveValue::from(value)
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

fn transfer_syntax(uid: &str) -> Option<&'static dicom_encoding::TransferSyntax> {
    TransferSyntaxRegistry.get(uid.trim_end_matches('\0'))
}

fn uint(obj: &InMemDicomObject, tag: Tag) -> Option<u16> {
    obj.get(tag).and_then(|e| e.to_int::<u16>().ok())
}

/// The identifier of a C-GET or C-MOVE: the level and the UIDs.
fn retrieve_identifier(what: &Retrieve) -> InMemDicomObject {
    let mut identifier = InMemDicomObject::new_empty();
    let level = if what.series_instance_uid.is_some() {
        "SERIES"
    } else {
        "STUDY"
    };
    put(&mut identifier, tags::QUERY_RETRIEVE_LEVEL, VR::CS, level);
    put(
        &mut identifier,
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        &what.study_instance_uid,
    );
    if let Some(series) = &what.series_instance_uid {
        put(&mut identifier, tags::SERIES_INSTANCE_UID, VR::UI, series);
    }
    identifier
}

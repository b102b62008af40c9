"""De-identify DICOM with the PS3.15 Annex E Basic Application Level Confidentiality Profile.

:class:`Anonymizer` applies the basic-profile column of PS3.15 Table E.1-1 to a
Dataset in place; :func:`anonymize_path` does it file → file or folder → folder.
One Anonymizer is one run: it replaces each original UID and patient with the
same pseudonym in every file it sees, so a study stays a study after
de-identification, while a new run (new secret) yields unrelated pseudonyms.

Table source: PS3.15 2026c Table E.1-1 (basic profile column), read from the
public scrape of that table in KitwareMedical/dicom-anonymizer
(``dicomfields_2026c.py``) and re-encoded here by keyword (by tag for attributes
newer than pydicom's dictionary); the action codes are PS3.15 E.1.1's (X remove,
Z empty, D dummy, U new UID, K keep, combinations). tests/core/test_anonymize_table.py
compares every row with that package's copy and checks what is done to each
attribute; it lists where the result deliberately differs from the row, and why.

What de-identification here does *not* do: it never touches pixel data, so text
burned into the pixels stays. Patient Identity Removed is therefore set to YES only
when the file rules that out (Burned In Annotation NO, no Recognizable Visual
Features YES) or has no pixel data; otherwise it is set to NO and the caller is told.
Free text in attributes outside the table is kept, as the basic profile allows.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID, MediaStorageDirectoryStorage, generate_uid

from medview.core.atomic import atomic_open
from medview.core.errors import ReadError, one_line
from medview.core.io.dicom import read_header

# PS3.15 2026c Table E.1-1, "Basic Prof." column, by action. Curve (50xx,xxxx)
# and overlay (60xx,3000 / 60xx,4000) rows are repeating groups, handled in code.
_TABLE_E_1_1 = {
    "D": """
        AcquisitionFieldOfViewLabel AnnotationGroupLabel AnnotationGroupUID AssertionDateTime
        AttributeModificationDateTime BeamHoldTransitionDateTime CertificateOfSigner
        ClinicalTrialProtocolEthicsCommitteeName ClinicalTrialProtocolID
        ClinicalTrialSponsorName ClinicalTrialSubjectID ClinicalTrialSubjectReadingID
        ContainerIdentifier ContentSequence ContextGroupLocalVersion ContextGroupVersion Date
        DateTime DecayCorrectionDateTime DestinationAE DeviceLabel DigitalSignatureDateTime
        EffectiveDateTime EncapsulatedDocument EntityLabel EntityLongLabel
        ExclusionStartDateTime FlowIdentifier FlowIdentifierSequence FrameAcquisitionDateTime
        FrameOriginTimestamp FrameReferenceDateTime FunctionalSyncPulse
        GraphicAnnotationSequence HangingProtocolCreationDateTime ImpedanceMeasurementDateTime
        InformationIssueDateTime InterlockDateTime InterlockDescription
        InterlockOriginDescription ModifyingSystem OverrideDateTime
        PersonIdentificationCodeSequence PersonName RTPlanLabel RTPrescriptionLabel
        RTToleranceSetLabel RadiationDoseIdentificationLabel RadiationDoseInVivoMeasurementLabel
        RadiationGenerationModeLabel ReasonForTheAttributeModification
        RecordedRTControlPointDateTime ReferencedDateTime SafePositionExitDate
        SafePositionExitTime SafePositionReturnDate SafePositionReturnTime SelectorAEValue
        SelectorASValue SelectorDAValue SelectorDTValue SelectorLOValue SelectorLTValue
        SelectorOBValue SelectorPNValue SelectorSHValue SelectorSTValue SelectorTMValue
        SelectorUNValue SelectorURValue SelectorUTValue SourceEndDateTime SourceIdentifier
        SourceStartDateTime SourceStrengthReferenceDate SourceStrengthReferenceTime
        SpecimenIdentifier StructureSetLabel Time TreatmentControlPointDate
        TreatmentControlPointTime TreatmentPositionGroupLabel
        TreatmentToleranceViolationDateTime TreatmentToleranceViolationDescription
        UnformattedTextValue UserContentLabel UserContentLongLabel VerificationDateTime
        VerifyingObserverName VerifyingObserverSequence VerifyingOrganization XRayDetectorID
        XRaySourceID
    """,
    "Z": """
        AccessionNumber CalibrationDateTime ClinicalTrialCoordinatingCenterName
        ClinicalTrialProtocolName ClinicalTrialSiteID ClinicalTrialSiteName
        ClinicalTrialTimePointID ConceptualVolumeCombinationDescription
        ConceptualVolumeDescription ConsultingPhysicianName DeviceAlternateIdentifier
        FillerOrderNumberImagingServiceRequest FractionationNotes
        IssuerOfTheContainerIdentifierSequence IssuerOfTheSpecimenIdentifierSequence
        ManufacturerDeviceIdentifier ParticipationDateTime PatientBirthDate PatientName
        PatientSex PlacerOrderNumberImagingServiceRequest PrescriptionNotes
        PrescriptionNotesSequence ROIInterpreter ROIName RTAccessoryDeviceSlotID
        RTAccessoryHolderSlotID RTPhysicianIntentNarrative RadiationGenerationModeDescription
        ReasonForSuperseding ReferringPhysicianName ReviewDate ReviewTime SourceOfPreviousValues
        SpecimenPreparationSequence StructureSetDate StructureSetTime StudyDate StudyID
        StudyTime TreatmentTechniqueNotes VerifyingObserverIdentificationCodeSequence
    """,
    "X": """
        AcquisitionComments AcquisitionContextDescription AcquisitionProtocolDescription
        ActualHumanPerformersSequence
        AdditionalPatientHistory AddressTrial AdmissionID AdmittingDate
        AdmittingDiagnosesCodeSequence AdmittingDiagnosesDescription AdmittingTime
        AffectedSOPInstanceUID Allergies AnnotationGroupDescription ApprovalStatusDateTime
        Arbitrary AssertionExpirationDateTime AuthorObserverSequence BeamDescription
        BolusDescription BranchOfService CalibrationDate CalibrationTime CameraOwnerName
        CassetteID CertifiedTimestamp ChannelDerivationDescription ChannelLabel
        ClinicalTrialProtocolEthicsCommitteeApprovalNumber
        ClinicalTrialSeriesDescription ClinicalTrialSeriesID ClinicalTrialTimePointDescription
        CommentsOnRadiationDose CommentsOnThePerformedProcedureStep CompensatorDescription
        ConfidentialityConstraintOnPatientDataDescription
        ConsultingPhysicianIdentificationSequence ContainerComponentID ContainerDescription
        ContentCreatorIdentificationCodeSequence ContrastBolusStartTime ContrastBolusStopTime
        ContributionDateTime ContributionDescription CountryOfResidence CreationDate
        CreationTime CurrentObserverTrial CurrentPatientLocation CurveDate CurveTime
        CustodialOrganizationSequence DataSetTrailingPadding
        DateOfDocumentOrVerbalTransactionTrial DateOfInstallation DateOfLastCalibration
        DateOfManufacture DateOfSecondaryCapture DateTimeOfLastCalibration
        DecompositionDescription DerivationDescription DeviceDescription
        DeviceSettingDescription DigitalSignaturesSequence DischargeDate
        DischargeDiagnosisDescription DischargeTime DisplacementReferenceLabel
        DistributionAddress DistributionName DoseReferenceDescription EntityDescription
        EntityName EquipmentFrameOfReferenceDescription
        EthicsCommitteeApprovalEffectivenessEndDate
        EthicsCommitteeApprovalEffectivenessStartDate EthnicGroup EthnicGroupCodeSequence
        ExpectedCompletionDateTime
        FilterLookupTableDescription FindingsGroupRecordingDateTrial
        FindingsGroupRecordingTimeTrial FixationDeviceDescription FractionGroupDescription
        FrameComments GPSAltitude GPSAltitudeRef GPSAreaInformation GPSDOP GPSDateStamp
        GPSDestBearing GPSDestBearingRef GPSDestDistance GPSDestDistanceRef GPSDestLatitude
        GPSDestLatitudeRef GPSDestLongitude GPSDestLongitudeRef GPSDifferential GPSImgDirection
        GPSImgDirectionRef GPSLatitude GPSLatitudeRef GPSLongitude GPSLongitudeRef GPSMapDatum
        GPSMeasureMode GPSProcessingMethod GPSSatellites GPSSpeed GPSSpeedRef GPSStatus
        GPSTimeStamp GPSTrack GPSTrackRef GPSVersionID GantryID GeneratorID
        HardcopyCreationDeviceID
        HL7DocumentEffectiveTime HumanPerformerName HumanPerformerOrganization IconImageSequence
        IdentifyingComments ImageComments ImagePresentationComments
        ImagingServiceRequestComments Impressions InstanceCoercionDateTime InstanceOriginStatus
        InstitutionAddress InstitutionalDepartmentName InstitutionalDepartmentTypeCodeSequence
        InsurancePlanIdentification IntendedFractionStartTime
        IntendedRecipientsOfResultsIdentificationSequence InterpretationApprovalDate
        InterpretationApprovalTime InterpretationApproverSequence InterpretationAuthor
        InterpretationDiagnosisDescription InterpretationID InterpretationIDIssuer
        InterpretationRecordedDate InterpretationRecordedTime InterpretationRecorder
        InterpretationText InterpretationTranscriber InterpretationTranscriptionDate
        InterpretationTranscriptionTime InterventionDrugStartTime InterventionDrugStopTime
        IssueDateOfImagingServiceRequest IssueTimeOfImagingServiceRequest IssuerOfAdmissionID
        IssuerOfAdmissionIDSequence IssuerOfClinicalTrialProtocolID
        IssuerOfClinicalTrialSeriesID IssuerOfClinicalTrialSiteID IssuerOfClinicalTrialSubjectID
        IssuerOfClinicalTrialSubjectReadingID IssuerOfClinicalTrialTimePointID IssuerOfPatientID
        IssuerOfServiceEpisodeID IssuerOfServiceEpisodeIDSequence LastMenstrualDate LensMake
        LensModel LensSerialNumber LensSpecification LongDeviceDescription MAC MakerNote
        MedicalAlerts MedicalRecordLocator MilitaryRank ModifiedAttributesSequence
        ModifiedImageDate ModifiedImageDescription ModifiedImageTime ModifyingDeviceID
        MultienergyAcquisitionDescription MultiplexGroupLabel NameOfPhysiciansReadingStudy
        NamesOfIntendedRecipientsOfResults NetworkID NonconformingDataElementValue
        NonconformingModifiedAttributesSequence ObservationDateTrial ObservationStartDateTime
        ObservationTimeTrial Occupation OrderCallbackPhoneNumber OrderCallbackTelecomInformation
        OrderEnteredBy OrderEntererLocation OriginalAttributesSequence Originator
        OtherClinicalTrialProtocolIDsSequence OtherPatientIDs OtherPatientIDsSequence
        OtherPatientNames OverlayDate OverlayTime ParticipantSequence PatientAddress PatientAge
        PatientBirthName PatientBirthTime PatientComments PatientInstitutionResidence
        PatientInsurancePlanCodeSequence PatientMotherBirthName
        PatientPrimaryLanguageCodeSequence PatientPrimaryLanguageModifierCodeSequence
        PatientReligiousPreference PatientSetupPhotoDescription PatientSize PatientState
        PatientTelecomInformation PatientTelephoneNumbers PatientTransportArrangements
        PatientTreatmentPreparationMethodDescription
        PatientTreatmentPreparationProcedureParameterDescription PatientWeight PerformedLocation
        PerformedProcedureStepDescription PerformedProcedureStepEndDate
        PerformedProcedureStepEndDateTime PerformedProcedureStepEndTime PerformedProcedureStepID
        PerformedProcedureStepStartDate PerformedProcedureStepStartDateTime
        PerformedProcedureStepStartTime PerformedStationAETitle
        PerformedStationGeographicLocationCodeSequence PerformedStationName
        PerformedStationNameCodeSequence PerformingPhysicianIdentificationSequence
        PerformingPhysicianName PersonAddress PersonTelecomInformation PersonTelephoneNumbers
        PhysicianApprovingInterpretation PhysiciansOfRecord
        PhysiciansOfRecordIdentificationSequence PhysiciansReadingStudyIdentificationSequence
        PlateID PositionAcquisitionTemplateDescription PositionAcquisitionTemplateName
        PreMedication PregnancyStatus PrescriptionDescription PresentationCreationDate
        PresentationCreationTime PriorTreatmentDoseDescription ProcedureStepCancellationDateTime
        ProductExpirationDateTime PyramidDescription PyramidLabel ROICreatorSequence ROIDateTime
        ROIDescription ROIGenerationDescription ROIInterpreterSequence ROIObservationDateTime
        ROIObservationDescription ROIObservationLabel RTPlanDescription RTPlanName
        RadiopharmaceuticalStartDateTime RadiopharmaceuticalStartTime
        RadiopharmaceuticalStopDateTime RadiopharmaceuticalStopTime ReasonForOmissionDescription
        ReasonForRequestedProcedureCodeSequence ReasonForStudy ReasonForTheImagingServiceRequest
        ReasonForTheRequestedProcedure ReasonForVisit ReasonForVisitCodeSequence ReceivingAE
        ReferencedDigitalSignatureSequence ReferencedPatientAliasSequence
        ReferencedPatientPhotoSequence ReferencedPatientSequence
        ReferencedSOPInstanceMACSequence ReferringPhysicianAddress
        ReferringPhysicianIdentificationSequence ReferringPhysicianTelephoneNumbers
        RegionOfResidence RequestAttributesSequence RequestedContrastAgent
        RequestedProcedureComments RequestedProcedureID RequestedProcedureLocation
        RequestedSeriesDescription RequestingAE RequestingPhysician RequestingService
        RespiratoryMotionCompensationTechniqueDescription ResponsibleOrganization
        ResponsiblePerson ResultsComments ResultsDistributionListSequence ResultsID
        ResultsIDIssuer RetrieveAETitle SOPAuthorizationDateTime ScheduledAdmissionDate
        ScheduledAdmissionTime ScheduledDischargeDate ScheduledDischargeTime
        ScheduledHumanPerformersSequence ScheduledPatientInstitutionResidence
        ScheduledPerformingPhysicianIdentificationSequence ScheduledPerformingPhysicianName
        ScheduledProcedureStepDescription ScheduledProcedureStepEndDate
        ScheduledProcedureStepEndTime ScheduledProcedureStepExpirationDateTime
        ScheduledProcedureStepID ScheduledProcedureStepLocation
        ScheduledProcedureStepModificationDateTime ScheduledProcedureStepStartDate
        ScheduledProcedureStepStartDateTime ScheduledProcedureStepStartTime
        ScheduledStationAETitle ScheduledStationGeographicLocationCodeSequence
        ScheduledStationName ScheduledStationNameCodeSequence ScheduledStudyLocation
        ScheduledStudyLocationAETitle ScheduledStudyStartDate ScheduledStudyStartTime
        ScheduledStudyStopDate ScheduledStudyStopTime SecondaryCaptureDeviceID SeriesDescription
        ServiceEpisodeDescription ServiceEpisodeID SetupTechniqueDescription
        ShieldingDeviceDescription SlideIdentifier SmokingStatus SourceManufacturer SpecialNeeds
        SpecimenAccessionNumber SpecimenDetailedDescription SpecimenShortDescription
        StationAETitle StructureSetDescription StructureSetName StudyArrivalDate
        StudyArrivalTime StudyComments StudyCompletionDate StudyCompletionTime StudyDescription
        StudyIDIssuer StudyReadDate StudyReadTime StudyVerifiedDate StudyVerifiedTime
        SubstanceAdministrationDateTime TelephoneNumberTrial TemplateLocalVersion
        TemplateVersion TextComments TextString TimeOfDocumentCreationOrVerbalTransactionTrial
        TimeOfLastCalibration TimeOfSecondaryCapture TimezoneOffsetFromUTC TopicAuthor
        TopicKeywords TopicSubject TopicTitle TransducerIdentificationSequence TreatmentSites
        UDISequence UniqueDeviceIdentifier VerbalSourceIdentifierCodeSequenceTrial
        VerbalSourceTrial VisitComments WaveformFilterDescription XRayDetectorLabel
    """,
    "U": """
        AcquisitionUID ConcatenationUID ConceptualVolumeUID ConstituentConceptualVolumeUID
        DeviceUID DigitalSignatureUID DimensionOrganizationUID DoseReferenceUID
        DosimetricObjectiveUID FailedSOPInstanceUIDList FiducialUID FrameOfReferenceUID
        InstanceCreatorUID IrradiationEventUID LargePaletteColorLookupTableUID
        ManufacturerDeviceClassUID MediaStorageSOPInstanceUID MultiplexGroupUID
        ObservationSubjectUIDTrial ObservationUID PaletteColorLookupTableUID PatientSetupUID
        PresentationDisplayCollectionUID PresentationSequenceCollectionUID PyramidUID
        RTTreatmentPhaseUID ReferencedConceptualVolumeUID ReferencedDoseReferenceUID
        ReferencedDosimetricObjectiveUID ReferencedFiducialsUID ReferencedFrameOfReferenceUID
        ReferencedGeneralPurposeScheduledProcedureStepTransactionUID
        ReferencedObservationUIDTrial ReferencedSOPInstanceUID ReferencedSOPInstanceUIDInFile
        ReferencedTreatmentPositionGroupUID RelatedFrameOfReferenceUID RequestedSOPInstanceUID
        SOPInstanceUID SeriesInstanceUID SourceConceptualVolumeUID SourceFrameOfReferenceUID
        SpecimenUID StorageMediaFileSetUID StudyInstanceUID SynchronizationFrameOfReferenceUID
        TableTopPositionAlignmentUID TargetUID TemplateExtensionCreatorUID
        TemplateExtensionOrganizationUID TrackingUID
        TransactionUID TreatmentPositionGroupUID TreatmentSessionUID UID
    """,
    "Z/D": """
        ContentCreatorName ContentDate ContentTime ContrastBolusAgent
        InstructionPerformedDateTime PatientID
    """,
    "X/Z": """
        AcquisitionContextSequence AcquisitionDate AcquisitionTime BarcodeValue LabelText
        PatientSexNeutered ReferencedStudySequence RequestedProcedureDescription ReviewerName
        SourceSerialNumber TreatmentMachineName
    """,
    "X/D": """
        AcquisitionDeviceProcessingDescription DateOfLastDetectorCalibration DetectorID
        EndAcquisitionDateTime FirstTreatmentDate InstanceCreationDate IntendedPhaseEndDate
        IntendedPhaseStartDate MostRecentTreatmentDate ObservationDateTime
        OperatorIdentificationSequence ProtocolName RTPlanDate RTPlanTime
        RTTreatmentApproachLabel SeriesDate SeriesTime StartAcquisitionDateTime
        TimeOfLastDetectorCalibration TreatmentDate TreatmentSite TreatmentTime
        WaveformAnnotationSequence
    """,
    "X/Z/D": """
        AcquisitionDateTime DeviceSerialNumber InstanceCreationTime InstitutionCodeSequence
        InstitutionName OperatorsName ReferencedPerformedProcedureStepSequence StationName
    """,
    "X/Z/U*": """
        ReferencedImageSequence SourceImageSequence
    """,
}

# Rows of the same table whose attributes pydicom 3.0's dictionary does not know
# yet, by tag; all of them X. A file holds them with their real VR (explicit VR) or
# as UN (implicit): removed either way.
_TABLE_E_1_1_BY_TAG = {"X": {
    0x00081301: "PrincipalDiagnosisCodeSequence", 0x00081302: "PrimaryDiagnosisCodeSequence",
    0x00081303: "SecondaryDiagnosesCodeSequence", 0x00081304: "HistologicalDiagnosesCodeSequence",
    0x00100011: "PersonNamesToUseSequence", 0x00100012: "NameToUse",
    0x00100013: "NameToUseComment", 0x00100014: "ThirdPersonPronounsSequence",
    0x00100015: "PronounCodeSequence", 0x00100016: "PronounComment",
    0x00100041: "GenderIdentitySequence",
    0x00100042: "SexParametersForClinicalUseCategoryComment",
    0x00100043: "SexParametersForClinicalUseCategorySequence",
    0x00100044: "GenderIdentityCodeSequence", 0x00100045: "GenderIdentityComment",
    0x00100046: "SexParametersForClinicalUseCategoryCodeSequence",
    0x00100047: "SexParametersForClinicalUseCategoryReference", 0x00102162: "EthnicGroups",
    0x0040A034: "EffectiveStartDateTime", 0x0040A035: "EffectiveStopDateTime",
    0x0040B034: "AnnotationDateTime", 0x0040B036: "SegmentDefinitionDateTime",
    0x0040B03B: "MontageName", 0x0040B03F: "MontageChannelLabel", 0x0040E012: "DisplayURI",
}}

# Table E.1-1 lets a combined action pick by the attribute's Type in the IOD at
# hand (X for Type 3, Z for Type 2, D for Type 1). Without per-IOD Type tables we
# take the option that keeps every IOD valid, so output never fails validation
# for a missing Type 1/2 attribute; identity is removed either way.
_RESOLVED = {"X": "X", "Z": "Z", "D": "D", "U": "U", "Z/D": "D", "X/Z": "Z",
             "X/D": "D", "X/Z/D": "D", "X/Z/U*": "U*"}

# Not in Table E.1-1 but identifying in the same way as rows that are: the
# file-meta AE titles name the sending station (cf. Station AE Title, X) and
# file-meta private information is private data (removed by the profile).
_EXTRA = {"X": """SourceApplicationEntityTitle SendingApplicationEntityTitle
                 ReceivingApplicationEntityTitle PrivateInformationCreatorUID
                 PrivateInformation"""}


def _parse_table(table: dict[str, str]) -> dict[BaseTag, str]:
    actions: dict[BaseTag, str] = {}
    for action, keywords in table.items():
        for keyword in keywords.split():
            tag = tag_for_keyword(keyword)
            if tag is None:  # a typo here would silently keep an identifying attribute
                raise RuntimeError(f"unknown DICOM keyword in Table E.1-1: {keyword}")
            actions[Tag(tag)] = action
    return actions


#: Tag → Table E.1-1 basic-profile action code ("X", "Z", "D", "U", "X/Z", ...).
BASIC_PROFILE: dict[BaseTag, str] = {
    **_parse_table(_TABLE_E_1_1),
    **{Tag(tag): action for action, rows in _TABLE_E_1_1_BY_TAG.items() for tag in rows}}
_ACTIONS: dict[BaseTag, str] = {**{t: _RESOLVED[a] for t, a in BASIC_PROFILE.items()},
                                **_parse_table(_EXTRA)}

_PATIENT_NAME = Tag("PatientName")
_PATIENT_ID = Tag("PatientID")
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_DICOM_UID_ROOT = "1.2.840.10008."  # well-known UIDs (classes, syntaxes, code schemes)
# UIDs that name a kind of thing, not an instance: replacing them breaks meaning
# and removes nothing about the patient.
_KEPT_UID_KEYWORDS = {"CodingSchemeUID", "ContextUID", "MappingResourceUID",
                      "ContextGroupExtensionCreatorUID", "SOPClassesInStudy"}

# D: "a non-zero length value that may be a dummy value and consistent with the VR"
_DUMMY_TEXT = "ANONYMIZED"
_DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000D",
          "DS": "0", "IS": "0"}
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN", "OB or OW"}
_NUMBER_VRS = {"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "US or SS", "AT"}

DEIDENTIFICATION_METHOD = "PS3.15 Basic Application Confidentiality Profile (medview)"
_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")


@dataclass
class AnonymizeReport:
    """What :func:`anonymize_path` did.

    Attributes
    ----------
    written : list of Path
        Output files, in processing order.
    skipped : list of (Path, str)
        Source files not written, each with a one-line reason.
    warnings : list of str
        One line per written file whose pixels may still identify the patient
        (Patient Identity Removed left NO), naming the source file and why.
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Anonymizer:
    """Applies the basic profile; one instance holds the pseudonyms of one run.

    Parameters
    ----------
    patient_name : str
        Replaces Patient's Name in every dataset.
    patient_id : str or None
        Replaces Patient ID in every dataset; when None each original patient
        gets its own generated ID (``"ANON"`` + 12 hex digits), the same one in
        every file of the run.
    secret : str or None
        Key from which replacement UIDs and IDs are derived. Random by default,
        which makes each run's pseudonyms unlinkable to other runs'. Passing the
        same secret again continues a run (e.g. a study anonymized in two
        sittings); keep it as safe as the originals, since with it anyone can
        test whether a guessed original UID maps to a given pseudonym.

    Notes
    -----
    New UIDs are ``generate_uid(entropy_srcs=[secret, original])``: deterministic
    within the run, yet not a plain hash of the original, which anyone could
    reverse by hashing candidate UIDs from the sending site's root.
    """

    def __init__(self, patient_name: str = "ANONYMOUS", patient_id: str | None = None,
                 secret: str | None = None) -> None:
        self.patient_name = patient_name
        self.patient_id = patient_id
        self._secret = secret if secret is not None else secrets.token_hex(32)
        # original → replacement; identifying, like the secret: keep it private
        self.uid_map: dict[str, str] = {}

    @classmethod
    def with_pseudonym(cls, patient_name: str | None = None,
                       patient_id: str | None = None) -> Anonymizer:
        """The anonymiser for the user's pseudonym options (CLI ``--patient-name`` /
        ``--patient-id``, the GUI's export dialog): blank or None keeps the default."""
        kwargs = {k: v.strip() for k, v in (("patient_name", patient_name),
                                            ("patient_id", patient_id)) if v and v.strip()}
        return cls(**kwargs)

    def anonymize(self, ds: Dataset) -> list[str]:
        """De-identify ``ds`` in place, file meta included; pixel data is untouched.

        Returns
        -------
        list of str
            Concerns the caller should show the user: at most one line, saying why
            the pixels may still identify the patient and so Patient Identity
            Removed was set to NO.
        """
        concerns = _pixel_concerns(ds)
        patient_key = _patient_key(ds)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            self._clean(meta, patient_key)
        self._clean(ds, patient_key)
        _mark_deidentified(ds, identity_removed=not concerns)
        return [f"{'; '.join(concerns)}: PatientIdentityRemoved left NO"] if concerns else []

    def new_uid(self, uid: str) -> UID:
        """The replacement for ``uid`` in this run (the same on every call)."""
        uid = str(uid).strip()
        if uid not in self.uid_map:
            self.uid_map[uid] = generate_uid(entropy_srcs=[self._secret, uid])
        return UID(self.uid_map[uid])

    def new_patient_id(self, patient_key: str) -> str:
        """The ID given to the patient identified by ``patient_key`` in this run."""
        if self.patient_id is not None:
            return self.patient_id
        digest = hmac.new(self._secret.encode(), f"patient:{patient_key}".encode(),
                          hashlib.sha256).hexdigest()
        return "ANON" + digest[:12].upper()

    # ----------------------------------------------------------------- walking

    def _clean(self, ds: Dataset, patient_key: str) -> None:
        for tag in list(ds.keys()):
            if tag.group == 0x7FE0:  # pixel data: never read, never rewritten
                continue
            if _always_removed(tag):
                del ds[tag]
                continue
            self._apply(ds, ds[tag], patient_key)

    def _apply(self, ds: Dataset, elem: DataElement, patient_key: str) -> None:
        if elem.tag == _PATIENT_NAME:
            elem.value = self.patient_name
        elif elem.tag == _PATIENT_ID:
            # a nested Patient ID (e.g. a source patient) is its own patient
            own = str(elem.value or "").strip()
            elem.value = self.new_patient_id(f"PatientID={own}" if own else patient_key)
        else:
            action = _action(elem)
            if action == "X":
                del ds[elem.tag]
            elif action == "U*" or (action == "K" and elem.VR == "SQ"):
                self._recurse_or_map(elem, patient_key)
            elif action != "K":
                self._replace(elem, action)

    def _recurse_or_map(self, elem: DataElement, patient_key: str) -> None:
        if elem.VR != "SQ":
            self._replace(elem, "U")
            return
        for item in elem.value:
            self._clean(item, patient_key)

    def _replace(self, elem: DataElement, action: str) -> None:
        vr = _vr(elem)
        if vr == "SQ":
            # Z, and D too: a dummy item could only restate what was removed, so
            # sequences are emptied (zero items) rather than faked.
            elem.value = Sequence()
        elif vr == "UI" and action in ("U", "D"):
            elem.value = self._map_uids(elem.value)
        elif action == "Z":
            elem.value = elem.empty_value
        else:
            elem.value = _dummy(vr)

    def _map_uids(self, value):
        if value is None or isinstance(value, str):
            return self.new_uid(value) if value else value
        return [self.new_uid(v) if v else v for v in value]  # multi-valued UI


# ----------------------------------------------------------------- element rules


def _always_removed(tag: BaseTag) -> bool:
    """Private attributes (PS3.15 E.1.1), curves and overlays (Table E.1-1)."""
    if tag.is_private:
        return True
    # Curve Data (50xx,xxxx) is X as a whole. Of overlays the table removes Data
    # and Comments; we drop the whole 60xx group, since an overlay described
    # without its bitmap is a broken overlay plane.
    group = tag.group
    return (0x5000 <= group <= 0x501E or 0x6000 <= group <= 0x601E) and group % 2 == 0


def _action(elem: DataElement) -> str:
    action = _ACTIONS.get(elem.tag)
    if action is not None:
        return action
    vr = _vr(elem)
    if vr == "UI":
        return "U" if _is_instance_uid(elem) else "K"
    # Dates and person names outside the table identify just as well (PS3.15
    # E.3.6 speaks of dates by VR, not by list), so they get dummies too.
    if vr in ("DA", "DT", "PN"):
        return "D"
    return "K"


def _is_instance_uid(elem: DataElement) -> bool:
    keyword = elem.keyword
    if "ClassUID" in keyword or "TransferSyntaxUID" in keyword or keyword in _KEPT_UID_KEYWORDS:
        return False
    values = elem.value if isinstance(elem.value, (list, tuple)) else [elem.value]
    return not all(str(v).startswith(_DICOM_UID_ROOT) for v in values if v)


def _vr(elem: DataElement) -> str:
    # explicit-VR files may carry known attributes as UN; act on the real VR
    if elem.VR == "UN":
        with contextlib.suppress(KeyError):
            return dictionary_VR(elem.tag)
    return elem.VR


def _dummy(vr: str):
    if vr in _DUMMY:
        return _DUMMY[vr]
    if vr in _BINARY_VRS:
        return b"\x00\x00"
    if vr in _NUMBER_VRS:
        return 0
    return _DUMMY_TEXT  # AE CS LO LT PN SH ST UC UR UT: valid in all of them


def _patient_key(ds: Dataset) -> str:
    """What identifies the patient, for a per-patient generated ID."""
    for keyword in ("PatientID", "PatientName"):
        value = str(ds.get(keyword, "") or "").strip()
        if value:
            return f"{keyword}={value}"
    # no identity at all: at least keep each study's files together
    return f"StudyInstanceUID={ds.get('StudyInstanceUID', '')}"


def _pixel_concerns(ds: Dataset) -> list[str]:
    """Why the untouched pixels may still identify the patient ([] when the file rules it out).

    Only Burned In Annotation NO rules out text in the pixels: the attribute is
    optional in many IODs, and absent means unknown. A dataset without pixel data
    (SR, RT plan, waveform) has nothing to rule out.
    """
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        return []
    found = []
    burned = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if burned == "YES":
        found.append("Burned In Annotation is YES (the pixels may show patient identity: "
                     "check the images before sharing them)")
    elif burned != "NO":
        found.append("burned-in annotation not ruled out (Burned In Annotation is "
                     f"{'absent' if not burned else repr(burned)})")
    if str(ds.get("RecognizableVisualFeatures", "") or "").strip().upper() == "YES":
        found.append("Recognizable Visual Features is YES (the image may show the "
                     "patient's face or other identifying features)")
    return found


def _mark_deidentified(ds: Dataset, identity_removed: bool) -> None:
    """Record the de-identification (PS3.3 C.7.1.1, PS3.15 E.1.1).

    Patient Identity Removed claims the pixels too are free of identity, which
    only the caller's check of the pixels can establish when they may not be.
    """
    ds.PatientIdentityRemoved = "YES" if identity_removed else "NO"
    methods = [m for m in _as_list(ds.get("DeidentificationMethod")) if m]
    if DEIDENTIFICATION_METHOD not in methods:
        ds.DeidentificationMethod = methods + [DEIDENTIFICATION_METHOD]
    codes = ds.get("DeidentificationMethodCodeSequence") or Sequence()
    if not any(c.get("CodeValue") == _PROFILE_CODE[0] for c in codes):
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = _PROFILE_CODE
        codes.append(code)
    ds.DeidentificationMethodCodeSequence = codes
    # dates were removed or replaced, not shifted (PS3.15 E.3.6)
    ds.LongitudinalTemporalInformationModified = "REMOVED"


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


# ----------------------------------------------------------------- files


def anonymize_path(src: str | Path, dst: str | Path,
                   anonymizer: Anonymizer | None = None) -> AnonymizeReport:
    """De-identify a file into a file, or a folder into a mirrored folder.

    Parameters
    ----------
    src : str or Path
        A DICOM file, or a folder searched recursively.
    dst : str or Path
        For a file: the output file, or an existing folder to write into. For
        a folder: the output root; sub-folders mirror ``src``. An output
        folder inside ``src`` is left out of the search.
    anonymizer : Anonymizer or None
        Pass one to share pseudonyms with other calls; a new run otherwise.

    Returns
    -------
    AnonymizeReport
        Non-DICOM, unreadable and DICOMDIR files are skipped with a reason;
        processing continues past them.

    Raises
    ------
    ReadError
        If ``src`` does not exist.
    ValueError
        If an output would replace its own source.
    """
    src, dst = Path(src), Path(dst)
    anonymizer = anonymizer or Anonymizer()
    report = AnonymizeReport()
    if not src.exists():
        raise ReadError(src, "file or folder not found")
    for source, target in _pairs(src, dst):
        _anonymize_file(source, target, anonymizer, report)
    return report


def _pairs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    if src.is_file():
        target = dst / src.name if dst.is_dir() else dst
        _refuse_overwrite(src, target)
        return [(src, target)]
    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: the output folder is the source folder; "
                         "choose another so the originals are kept")
    out_root = dst.resolve()
    sources = [p for p in sorted(src.rglob("*"))
               if p.is_file() and not p.resolve().is_relative_to(out_root)]
    return [(p, dst / p.relative_to(src)) for p in sources]


def _refuse_overwrite(source: Path, target: Path) -> None:
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError(f"{target}: writing here would overwrite the source file")


def _anonymize_file(source: Path, target: Path, anonymizer: Anonymizer,
                    report: AnonymizeReport) -> None:
    try:
        _refuse_overwrite(source, target)
        ds = _read_dataset(source)
    except (ReadError, ValueError) as exc:
        report.skipped.append((source, getattr(exc, "reason", str(exc))))
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's notes on odd original values
            found = anonymizer.anonymize(ds)
        _write_atomic(ds, target)
    except Exception as exc:  # pydicom raises many types for odd or unwritable data
        report.skipped.append((source, f"could not anonymize into {target}: {one_line(exc)}"))
        return
    report.written.append(target)
    report.warnings.extend(f"{source}: {w}" for w in found)


def _read_dataset(path: Path) -> Dataset:
    header = read_header(path)  # the project's one-line reasons for bad files
    meta = getattr(header, "file_meta", None)
    sop_class = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    if sop_class == MediaStorageDirectoryStorage or "DirectoryRecordSequence" in header:
        raise ReadError(path, "DICOMDIR index skipped: it lists the originals; "
                              "rebuild it from the anonymized files")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return pydicom.dcmread(path)
            except InvalidDicomError:  # headerless ACR-NEMA style, accepted by read_header
                return pydicom.dcmread(path, force=True)
    except Exception as exc:
        raise ReadError(path, f"damaged DICOM file ({one_line(exc)})") from None


def _write_atomic(ds: Dataset, target: Path) -> None:
    """Write next to ``target`` then rename, so a crash never leaves half a file."""
    with atomic_open(target, "wb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # enforce_file_format=False keeps the dataset's own encoding, so the
        # transfer syntax and the pixel data bytes are written as read
        ds.save_as(fh, enforce_file_format=False)

"""Device models and device kinds of the demo hospital.

Manufacturers, models, MAC OUIs (from the IEEE registry that netaddr ships) and
FDA product codes are real. Serial numbers, 510(k) numbers and software
versions are synthetic and drawn from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from cmdb.model import Criticality


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """A device model as sold: who makes it, the MAC prefix it ships with and its FDA listing."""

    manufacturer: str
    model: str
    oui: str
    serial_prefix: str
    software_versions: tuple[str, ...]
    fda_product_code: str | None = None
    fda_class: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """A kind of end device found in a unit and how it joins the graph.

    ``link_strength`` is the strength of its CONNECTS_TO: soft when the device
    keeps working for the patient without the network. ``wireless`` devices
    connect to the wireless-controller pair, the others to an access switch.
    ``service`` is the service it SUPPORTS with ``service_strength``. ``feeds``
    is the application key it sends data to, or ``"central-station"`` for the
    unit's central station.
    """

    code: str
    label: str
    ci_class: str
    criticality: Criticality
    models: tuple[DeviceModel, ...]
    link_strength: str
    vlan: int
    wireless: bool = False
    patient_connected: bool | None = None
    service: str | None = None
    service_strength: str = "soft"
    feeds: str | None = None
    feed_protocol: str | None = None
    used_by_department: bool = False
    at_bed: bool = False


# Every medical device kind is a MedicalDevice CI used by the department of its unit.
_medical_device = partial(DeviceKind, ci_class="MedicalDevice", used_by_department=True)


PHILIPS_MONITORING = "00:09:fb"
GE_HEALTHCARE = "44:4b:5d"
MINDRAY = "00:a0:37"
BD_CAREFUSION = "f8:c6:78"
BAXTER = "58:46:e1"
ICU_MEDICAL = "00:03:b1"
HAMILTON = "00:1e:9a"
DRAEGER = "00:30:e6"
SIEMENS_HEALTHCARE = "20:e7:91"
FRESENIUS = "b0:4c:05"
ZEBRA = "00:23:68"
DELL = "d0:43:1e"
HP_INC = "64:4e:d7"
CISCO = "e8:0a:b9"
ARUBA = "4c:d5:87"
VMWARE = "00:50:56"

MONITOR = _medical_device(
    code="mon",
    label="patient monitor",
    criticality=Criticality.LIFE_CRITICAL,
    models=(
        DeviceModel(
            "Philips", "IntelliVue MX800", PHILIPS_MONITORING, "DE", ("M.00.03", "M.00.04"), "MHX", "II"
        ),
        DeviceModel("Philips", "IntelliVue MX750", PHILIPS_MONITORING, "DE", ("M.00.04",), "MHX", "II"),
        DeviceModel("GE Healthcare", "CARESCAPE B650", GE_HEALTHCARE, "SJ", ("3.2", "3.3"), "MHX", "II"),
        DeviceModel("Mindray", "BeneVision N17", MINDRAY, "FZ", ("02.10", "02.11"), "MHX", "II"),
    ),
    link_strength="soft",
    vlan=110,
    patient_connected=True,
    service="svc-monitoring",
    feeds="central-station",
    feed_protocol="vendor",
    at_bed=True,
)

CENTRAL_STATION = _medical_device(
    code="cs",
    label="central station",
    criticality=Criticality.LIFE_CRITICAL,
    models=(
        DeviceModel("Philips", "PIC iX", PHILIPS_MONITORING, "US", ("C.02", "C.03"), "MSX", "II"),
        DeviceModel(
            "GE Healthcare", "CARESCAPE Central Station", GE_HEALTHCARE, "SJC", ("2.1",), "MSX", "II"
        ),
    ),
    link_strength="hard",
    vlan=110,
    patient_connected=False,
    service="svc-monitoring",
    service_strength="hard",
)

INFUSION_PUMP = _medical_device(
    code="pump",
    label="infusion pump",
    criticality=Criticality.LIFE_CRITICAL,
    models=(
        DeviceModel("BD", "Alaris 8015 PC Unit", BD_CAREFUSION, "8015", ("12.1.2", "12.3.0"), "FRN", "II"),
        DeviceModel("Baxter", "Spectrum IQ", BAXTER, "SIQ", ("9.02", "9.03"), "FRN", "II"),
        DeviceModel("ICU Medical", "Plum 360", ICU_MEDICAL, "PL", ("15.11", "15.12"), "FRN", "II"),
    ),
    link_strength="soft",
    vlan=150,
    wireless=True,
    patient_connected=True,
    service="svc-medadmin",
    at_bed=True,
)

VENTILATOR = _medical_device(
    code="vent",
    label="ventilator",
    criticality=Criticality.LIFE_CRITICAL,
    models=(
        DeviceModel("Hamilton Medical", "HAMILTON-C6", HAMILTON, "HC6", ("2.0.4", "2.1.1"), "CBK", "II"),
        DeviceModel("Draeger", "Evita V800", DRAEGER, "ASM", ("2.51",), "CBK", "II"),
    ),
    link_strength="soft",
    vlan=110,
    patient_connected=True,
    at_bed=True,
)

ANESTHESIA_MACHINE = _medical_device(
    code="anes",
    label="anesthesia machine",
    criticality=Criticality.LIFE_CRITICAL,
    models=(
        DeviceModel("GE Healthcare", "Aisys CS2", GE_HEALTHCARE, "AMX", ("11", "12"), "BSZ", "II"),
        DeviceModel("Draeger", "Perseus A500", DRAEGER, "ASP", ("2.03",), "BSZ", "II"),
    ),
    link_strength="soft",
    vlan=110,
    patient_connected=True,
    service="svc-periop",
    feeds="app-aims",
    feed_protocol="HL7v2 ORU",
)

CT_SCANNER = _medical_device(
    code="ct",
    label="CT scanner",
    criticality=Criticality.PATIENT_CARE,
    models=(
        DeviceModel(
            "Siemens Healthineers", "SOMATOM Force", SIEMENS_HEALTHCARE, "CT", ("VB20",), "JAK", "II"
        ),
        DeviceModel("GE Healthcare", "Revolution CT", GE_HEALTHCARE, "RCT", ("24.1",), "JAK", "II"),
    ),
    link_strength="soft",
    vlan=140,
    patient_connected=True,
    service="svc-imaging",
    feeds="app-pacs",
    feed_protocol="DICOM C-STORE",
)

# An MR scanner has the criticality of a CT scanner and joins the graph the same way:
# imaging VLAN, imaging service, DICOM images sent to the PACS.
MR_SCANNER = replace(
    CT_SCANNER,
    code="mr",
    label="MR scanner",
    models=(
        DeviceModel(
            "Siemens Healthineers", "MAGNETOM Vida", SIEMENS_HEALTHCARE, "MR", ("XA50",), "LNH", "II"
        ),
        DeviceModel("GE Healthcare", "SIGNA Premier", GE_HEALTHCARE, "SGP", ("30.1",), "LNH", "II"),
    ),
)

LAB_ANALYZER = _medical_device(
    code="analyzer",
    label="chemistry analyzer",
    criticality=Criticality.PATIENT_CARE,
    models=(
        DeviceModel(
            "Siemens Healthineers", "Atellica CH 930", SIEMENS_HEALTHCARE, "ACH", ("1.27",), "JJE", "I"
        ),
    ),
    link_strength="soft",
    vlan=140,
    service="svc-lab",
    feeds="app-lis",
    feed_protocol="ASTM E1394",
)

DIALYSIS_MACHINE = _medical_device(
    code="hd",
    label="hemodialysis machine",
    criticality=Criticality.LIFE_CRITICAL,
    models=(DeviceModel("Fresenius Medical Care", "2008T", FRESENIUS, "2T", ("2.72",), "FKP", "II"),),
    link_strength="soft",
    vlan=110,
    patient_connected=True,
    at_bed=True,
)

WORKSTATION = DeviceKind(
    code="ws",
    label="workstation",
    ci_class="Workstation",
    criticality=Criticality.PATIENT_CARE,
    models=(
        DeviceModel("Dell", "OptiPlex 7010", DELL, "", ("Windows 11 23H2",)),
        DeviceModel("HP", "EliteDesk 800 G9", HP_INC, "", ("Windows 11 23H2",)),
    ),
    link_strength="hard",
    vlan=120,
    service="svc-clindoc",
    used_by_department=True,
)

LABEL_PRINTER = DeviceKind(
    code="prn",
    label="label printer",
    ci_class="Printer",
    criticality=Criticality.PATIENT_CARE,
    models=(DeviceModel("Zebra", "ZD621", ZEBRA, "D4J", ("V93.21.26Z",)),),
    link_strength="hard",
    vlan=130,
    service="svc-medadmin",
    used_by_department=True,
)

ACCESS_POINT = DeviceKind(
    code="ap",
    label="wireless access point",
    ci_class="NetworkDevice",
    criticality=Criticality.PATIENT_CARE,
    models=(DeviceModel("Cisco", "C9130AXI", CISCO, "FJC", ("17.9.4",)),),
    link_strength="hard",
    vlan=10,
)

DEVICE_KINDS: tuple[DeviceKind, ...] = (
    MONITOR,
    CENTRAL_STATION,
    INFUSION_PUMP,
    VENTILATOR,
    ANESTHESIA_MACHINE,
    CT_SCANNER,
    MR_SCANNER,
    LAB_ANALYZER,
    DIALYSIS_MACHINE,
    WORKSTATION,
    LABEL_PRINTER,
    ACCESS_POINT,
)

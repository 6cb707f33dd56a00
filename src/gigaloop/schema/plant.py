"""Plant tables: where things are made, what the machines and processes read."""

from gigaloop.schema.table import Table, col

PROCESSES = ("casting", "stamping", "body_weld", "paint", "battery_pack", "general_assembly",
             "eol_test")
SHIFTS = ("A", "B", "C")

SITES = Table("sites", "plant", "Plants.", key=("site_id",), event=False, columns=(
    col("site_id", "string", "plant id"),
    col("name", "string", "plant name"),
    col("region", "string", "grid / climate region of the plant"),
    col("timezone", "string", "IANA time zone", domain="iana_timezone"),
))

LINES = Table("lines", "plant", "Production lines.", key=("line_id",), event=False, columns=(
    col("line_id", "string", "line id"),
    col("site_id", "string", "plant", references="sites.site_id"),
    col("name", "string", "line name"),
    col("ideal_cycle_s", "float64", "seconds per unit at the line's rated speed (OEE's ideal "
        "cycle time)", unit="s", min=0, nullable=True),
))

STATIONS = Table("stations", "plant", "Stations on a line.", key=("station_id",), event=False,
                 columns=(
    col("station_id", "string", "station id"),
    col("line_id", "string", "line", references="lines.line_id"),
    col("process", "string", "process area", choices=PROCESSES),
    col("sequence", "int64", "order of the station on its line", min=0),
))

MACHINES = Table("machines", "plant", "Machines at stations.", key=("machine_id",), event=False,
                 columns=(
    col("machine_id", "string", "machine id"),
    col("station_id", "string", "station", references="stations.station_id"),
    col("kind", "string", "press, weld_robot, paint_robot, …"),
    col("installed_on", "date", "installation date"),
))

PROCESS_READINGS = Table(
    "process_readings", "plant", "One process parameter measured on one unit at one station.",
    key=("vin", "station_id", "parameter"), partition_by="event_time", columns=(
        col("vin", "string", "unit measured", references="vehicles.vin"),
        col("station_id", "string", "station", references="stations.station_id"),
        col("machine_id", "string", "machine that did the work", nullable=True),
        col("parameter", "string", "weld_current, torque, paint_thickness, …"),
        col("value", "float64", "measured value"),
        col("unit", "string", "unit of value (kA, N·m, µm, °C, …): the unit first stored for "
            "the station and parameter", consistent_by=("station_id", "parameter")),
        col("setpoint", "float64", "setpoint in force", nullable=True),
    ))

MACHINE_READINGS = Table(
    "machine_readings", "plant", "Condition-monitoring snapshot of a machine.",
    key=("machine_id", "event_time"), partition_by="event_time", columns=(
        col("machine_id", "string", "machine", references="machines.machine_id"),
        col("vibration_rms", "float64", "velocity RMS (ISO 10816)", unit="mm/s", min=0),
        col("kurtosis", "float64", "acceleration kurtosis", min=0),
        col("crest_factor", "float64", "peak / RMS of acceleration", min=0),
        col("band_energy_low", "float64", "energy 10–1 kHz", unit="g²", min=0),
        col("band_energy_bearing", "float64", "energy around bearing defect frequencies",
            unit="g²", min=0),
        col("band_energy_high", "float64", "energy 5–20 kHz", unit="g²", min=0),
        col("temperature_c", "float64", "housing temperature", unit="°C", min=-50, max=300),
    ))

INSPECTION_RESULTS = Table(
    "inspection_results", "plant", "Result of an inspection (vision or gauge) of one unit.",
    key=("vin", "station_id", "inspection"), partition_by="event_time", columns=(
        col("vin", "string", "unit inspected", references="vehicles.vin"),
        col("station_id", "string", "inspection station", references="stations.station_id"),
        col("inspection", "string", "weld_seam, paint_thickness, eol_function, …"),
        col("passed", "bool", "verdict"),
        col("defect", "string", "defect class when failed", nullable=True),
        col("score", "float64", "inspection model / gauge score", nullable=True),
        col("image_uri", "string", "where the image is kept", nullable=True),
    ))

INSPECTION_IMAGES = Table(
    "inspection_images", "plant",
    "An image a vision station took: of a unit, or a commissioning sample (no VIN; its label "
    "is \"good\" or the defect the sample shows).",
    key=("image_id",), partition_by="event_time", columns=(
        col("image_id", "string", "image id"),
        col("vin", "string", "unit imaged (none for a commissioning sample)",
            references="vehicles.vin", nullable=True),
        col("station_id", "string", "vision station", references="stations.station_id"),
        col("inspection", "string", "weld_seam, paint_panel, …"),
        col("image_uri", "string", "where the image is kept (file path#index)"),
        col("label", "string", "a commissioning sample's label: good or a defect class",
            nullable=True),
    ))

REWORK_RESULTS = Table(
    "rework_results", "plant", "What the repair bay found on a unit sent to it from an "
    "inspection: the label of that inspection's verdict.",
    key=("vin", "station_id", "inspection"), partition_by="event_time", columns=(
        col("vin", "string", "unit reworked", references="vehicles.vin"),
        col("station_id", "string", "inspection station that sent it",
            references="stations.station_id"),
        col("inspection", "string", "inspection whose verdict sent it"),
        col("reason", "string", "flagged (failed the inspection) or audit (a passed unit "
            "sampled)", choices=("flagged", "audit")),
        col("defect_found", "bool", "whether the repair bay found (and repaired) a defect"),
        col("defect", "string", "defect class found", nullable=True),
    ))

ENERGY_READINGS = Table(
    "energy_readings", "plant", "Hourly energy use of a site with its weather, price and carbon.",
    key=("site_id", "event_time"), partition_by="event_time", columns=(
        col("site_id", "string", "plant", references="sites.site_id"),
        col("hvac_kwh", "float64", "HVAC energy in the hour", unit="kWh", min=0),
        col("process_kwh", "float64", "process energy in the hour", unit="kWh", min=0),
        col("lighting_kwh", "float64", "lighting energy in the hour", unit="kWh", min=0),
        col("outside_temp_c", "float64", "outside air temperature", unit="°C"),
        col("indoor_temp_c", "float64", "indoor air temperature", unit="°C"),
        col("tariff_usd_per_kwh", "float64", "energy price", unit="USD/kWh", min=0),
        col("carbon_g_per_kwh", "float64", "grid carbon intensity", unit="gCO2e/kWh", min=0),
    ))

MAINTENANCE_EVENTS = Table(
    "maintenance_events", "plant", "Maintenance done on a machine.",
    key=("maintenance_id",), partition_by="event_time", columns=(
        col("maintenance_id", "string", "work order id"),
        col("machine_id", "string", "machine", references="machines.machine_id"),
        col("kind", "string", "planned, corrective, or calibration (a machine's process "
            "parameters re-zeroed; wear untouched)",
            choices=("planned", "corrective", "calibration")),
        col("reason", "string", "why"),
        col("duration_h", "float64", "hours the machine was down for it", unit="h", min=0),
    ))

DOWNTIME_EVENTS = Table(
    "downtime_events", "plant", "A period a station could not produce.",
    key=("downtime_id",), partition_by="event_time", columns=(
        col("downtime_id", "string", "id"),
        col("station_id", "string", "station", references="stations.station_id"),
        col("machine_id", "string", "machine that caused it (null: no machine did)",
            nullable=True),
        col("planned", "bool", "planned (maintenance window) or not"),
        col("cause", "string", "breakdown, minor_stop, planned_maintenance, material_shortage, "
            "quality_hold, utility_outage, …"),
        col("hours", "float64", "duration", unit="h", min=0),
    ))

SPC_ALARMS = Table(
    "spc_alarms", "plant", "A control-chart alarm on one (machine, parameter) stream.",
    key=("machine_id", "parameter", "rule", "event_time"), partition_by="event_time", columns=(
        col("machine_id", "string", "machine whose stream signalled",
            references="machines.machine_id"),
        col("station_id", "string", "station", references="stations.station_id"),
        col("parameter", "string", "process parameter"),
        col("rule", "string", "ewma_upper, ewma_lower, cusum_upper or cusum_lower"),
        col("statistic", "float64", "chart statistic when it signalled (unit of the parameter)"),
        col("limit", "float64", "control limit it crossed (unit of the parameter)"),
        col("first_vin", "string", "unit whose reading signalled", references="vehicles.vin"),
    ))

TABLES = (SITES, LINES, STATIONS, MACHINES, PROCESS_READINGS, MACHINE_READINGS,
          INSPECTION_RESULTS, INSPECTION_IMAGES, REWORK_RESULTS, ENERGY_READINGS,
          MAINTENANCE_EVENTS, DOWNTIME_EVENTS, SPC_ALARMS)

"""Seed catalog: the 4 platforms and the products named in the source document (山东移动信息化产品运营维护方案,
§1: "已建设平台四个…已引入或开发标准化产品35个,如移动办公、集团通讯录、外勤通等"), plus plausible sample products
(`sample: True`) so that the catalog has the document's 35 products. Pure data; loaded at start, missing entries
only (store/seeding in main.py never overwrites a later change)."""

from contracts.vocabulary import Stage

PLATFORMS: tuple[dict, ...] = (
    {"code": "cloud", "name": "信息化云平台", "name_en": "Informatization cloud platform",
     "stage": Stage.delivered, "vendor": "vendor-01", "product_managers": ["pm-01"]},
    {"code": "video", "name": "视频监控平台", "name_en": "Video surveillance platform",
     "stage": Stage.delivered, "vendor": "vendor-02", "product_managers": ["pm-02"]},
    {"code": "card", "name": "一卡通平台", "name_en": "All-in-one card platform",
     "stage": Stage.delivered, "vendor": "vendor-03", "product_managers": ["pm-03"]},
    {"code": "school", "name": "校讯通平台", "name_en": "School-home messaging platform",
     "stage": Stage.delivered, "vendor": "vendor-04", "product_managers": ["pm-04"]},
)


def _p(code: str, name: str, name_en: str, platform_code: str, stage: Stage, vendor: str,
       product_managers: list[str], sample: bool = True) -> dict:
    return {"code": code, "name": name, "name_en": name_en, "platform_code": platform_code, "stage": stage,
            "vendor": vendor, "product_managers": product_managers, "sample": sample}


PRODUCTS: tuple[dict, ...] = (
    # named in the source document
    _p("mobile_office", "移动办公", "Mobile office", "cloud", Stage.delivered, "vendor-05", ["pm-01"], sample=False),
    _p("group_directory", "集团通讯录", "Corporate directory", "cloud", Stage.delivered, "vendor-05", ["pm-01"],
       sample=False),
    _p("field_force", "外勤通", "Field-force app", "cloud", Stage.delivered, "vendor-06", ["pm-05"], sample=False),
    # samples: 信息化云平台
    _p("enterprise_ringtone", "企业彩铃", "Enterprise ringback tone", "cloud", Stage.delivered, "vendor-07", ["pm-05"]),
    _p("cloud_video_conf", "云视讯", "Cloud video conferencing", "cloud", Stage.commercial, "vendor-08", ["pm-06"]),
    _p("cloud_drive", "云盘", "Enterprise cloud drive", "cloud", Stage.delivered, "vendor-08", ["pm-06"]),
    _p("push_to_talk", "和对讲", "Push-to-talk", "cloud", Stage.delivered, "vendor-09", ["pm-05"]),
    _p("fleet_manager", "车务通", "Fleet management", "cloud", Stage.delivered, "vendor-09", ["pm-07"]),
    _p("enterprise_mail", "企业邮箱", "Enterprise mail", "cloud", Stage.delivered, "vendor-07", ["pm-01"]),
    _p("group_sms", "集团短信", "Group SMS", "cloud", Stage.delivered, "vendor-05", ["pm-01"]),
    _p("cloud_host", "云主机", "Cloud host", "cloud", Stage.commercial, "vendor-01", ["pm-06"]),
    _p("e_signature", "电子签章", "Electronic signature", "cloud", Stage.commercial, "vendor-10", ["pm-07"]),
    _p("party_building", "智慧党建", "Smart party building", "cloud", Stage.trial, "vendor-10", ["pm-07"]),
    _p("mobile_attendance", "移动考勤", "Mobile attendance", "cloud", Stage.delivered, "vendor-06", ["pm-05"]),
    _p("e_invoice", "电子发票助手", "E-invoice assistant", "cloud", Stage.trial_commercial, "vendor-10", ["pm-06"]),
    _p("web_builder", "云建站", "Website builder", "cloud", Stage.commercial, "vendor-07", ["pm-06"]),
    _p("cloud_fax", "云传真", "Cloud fax", "cloud", Stage.development, "vendor-11", ["pm-01"]),
    _p("traffic_pool", "集团流量池", "Group data pool", "cloud", Stage.delivered, "vendor-01", ["pm-05"]),
    # samples: 视频监控平台
    _p("remote_eye", "千里眼", "Remote video monitoring", "video", Stage.delivered, "vendor-02", ["pm-02"]),
    _p("store_watch", "看店宝", "Store watch", "video", Stage.delivered, "vendor-02", ["pm-02"]),
    _p("smart_site", "智慧工地", "Smart construction site", "video", Stage.commercial, "vendor-12", ["pm-02"]),
    _p("open_kitchen", "明厨亮灶", "Open kitchen monitoring", "video", Stage.delivered, "vendor-12", ["pm-08"]),
    _p("cloud_surveillance", "云监控", "Cloud surveillance", "video", Stage.commercial, "vendor-02", ["pm-08"]),
    _p("farm_watch", "智慧农业监控", "Smart farm monitoring", "video", Stage.trial, "vendor-12", ["pm-08"]),
    # samples: 一卡通平台
    _p("campus_card", "校园一卡通", "Campus card", "card", Stage.delivered, "vendor-03", ["pm-03"]),
    _p("enterprise_card", "企业一卡通", "Enterprise card", "card", Stage.delivered, "vendor-03", ["pm-03"]),
    _p("access_control", "门禁考勤", "Access control and attendance", "card", Stage.delivered, "vendor-03", ["pm-03"]),
    _p("smart_canteen", "智慧食堂", "Smart canteen", "card", Stage.commercial, "vendor-11", ["pm-03"]),
    _p("smart_parking", "智慧停车", "Smart parking", "card", Stage.trial, "vendor-11", ["pm-08"]),
    # samples: 校讯通平台
    _p("smart_campus", "智慧校园", "Smart campus", "school", Stage.delivered, "vendor-04", ["pm-04"]),
    _p("home_school_notice", "家校通知", "Home-school notices", "school", Stage.delivered, "vendor-04", ["pm-04"]),
    _p("grade_report", "成绩通", "Grade reports", "school", Stage.delivered, "vendor-04", ["pm-04"]),
    _p("safe_campus", "平安校园", "Safe campus (student location badge)", "school", Stage.commercial, "vendor-09",
       ["pm-04"]),
    _p("school_bus", "校车通", "School bus tracking", "school", Stage.commercial, "vendor-09", ["pm-07"]),
    _p("homework_helper", "作业辅导", "Homework helper", "school", Stage.development, "vendor-04", ["pm-04"]),
)

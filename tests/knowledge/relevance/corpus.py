"""A realistic knowledge base for measuring search relevance (plausible sample content written for the test,
not real tariffs): 70 articles over 移动办公, 集团通讯录, 外勤通, 企业彩铃, 集团短信, 云视讯, 集团流量池, 企业邮箱,
校园一卡通, 家校通知, 千里眼 and general ones, of all six types, with a few drafts and archived versions as
distractors. Each entry: id, type, product_code, title, body, tags, audience, state (default published)."""

A = [
    # --- 移动办公 mobile_office ------------------------------------------------------------------------------
    dict(id="mo-login-faq", type="faq", product_code="mobile_office", audience="customer",
         title="移动办公无法登录怎么办？",
         body="请先确认本人账号已由集团管理员开通，并已加入本单位通讯录。登录页输入手机号后点击“获取验证码”，"
              "短信验证码60秒内有效；收不到验证码时请检查是否被手机安全软件拦截，或稍等1分钟后重新获取。"
              "连续输错密码5次账号会被锁定30分钟，可联系本单位管理员在管理后台解锁。",
         tags=["登录", "验证码", "账号锁定"]),
    dict(id="mo-login-script", type="service_script", product_code="mobile_office",
         title="移动办公登录失败的答复口径",
         body="用户反映登录提示“账号不存在”时：说明其手机号未加入集团通讯录，请其联系本单位管理员添加后再登录。"
              "提示“网络异常”时：请用户切换WiFi或4G后重试，并将客户端升级到最新版本。"
              "以上均无效的，记录集团名称、手机号和报错截图，转产品经理核查。",
         tags=["登录", "账号不存在"]),
    dict(id="mo-tariff", type="tariff", product_code="mobile_office", audience="customer",
         title="移动办公资费说明（2026版）",
         body="基础版每用户每月5元，含考勤、审批、公告；专业版每用户每月12元，另含视频会议和50G企业云盘。"
              "集团订购满100用户享八折。新订购集团首月免费试用，功能费从次月起按月收取，计入集团统付账单。",
         tags=["资费", "功能费", "套餐"]),
    dict(id="mo-tariff-2024", type="tariff", product_code="mobile_office", state="archived", audience="customer",
         title="移动办公资费说明（2024版，已停用）",
         body="基础版每用户每月8元，专业版每用户每月15元。自2026年1月起由新版资费替代。", tags=["资费"]),
    dict(id="mo-approval-script", type="service_script", product_code="mobile_office",
         title="移动办公审批提交失败的答复口径",
         body="用户反映审批提交时提示“网络异常”或一直转圈：1. 请用户确认客户端版本，低于3.2.5的请先升级；"
              "2. 附件超过20M会导致提交失败，请压缩后重新上传；3. 升级后仍失败的，记录集团名称与手机号，转产品经理核查。",
         tags=["审批", "客户端升级"]),
    dict(id="mo-install", type="manual", product_code="mobile_office", audience="customer",
         title="移动办公客户端下载与安装",
         body="安卓手机在应用商店搜索“移动办公”下载安装，苹果手机在App Store搜索下载；也可扫描管理后台首页的二维码。"
              "系统要求安卓8.0或iOS 13以上。首次打开需允许通知和存储权限，否则无法接收消息和上传附件。",
         tags=["下载", "安装", "二维码"]),
    dict(id="mo-unsubscribe", type="faq", product_code="mobile_office", audience="account_manager",
         title="集团如何退订移动办公？",
         body="集团整体退订须由客户经理在BOSS系统提交退订工单，当月申请次月生效，当月功能费照常收取。"
              "员工离职无需退订，由管理员在后台删除该成员即可，次月起不再计费。",
         tags=["退订", "取消订购", "销户"]),
    dict(id="mo-billing-guide", type="complaint_guide", product_code="mobile_office",
         title="移动办公重复扣费投诉处理指引",
         body="受理：核对集团统付账单与订购关系，确认是否同一用户在两个集团下重复订购。"
              "确属重复扣费的，24小时内在BOSS提交退费申请，退费金额原路返还，并在每个工作日向投诉人通报进度。"
              "非重复扣费的，向投诉人逐项解释账单，仍不满意的升级产品经理。",
         tags=["扣费", "退费", "账单"]),
    dict(id="mo-admin-training", type="training", product_code="mobile_office", audience="account_manager",
         title="移动办公管理员培训：组织架构与权限设置",
         body="本课程面向集团管理员：如何建立部门、添加成员、设置子管理员，审批流程的配置方法，"
              "以及考勤规则的设置。课后请完成10道练习题。",
         tags=["管理员", "培训", "权限"]),
    dict(id="mo-crash", type="faq", product_code="mobile_office", audience="customer",
         title="移动办公客户端闪退或打开白屏",
         body="请先在手机设置中清除移动办公的缓存后重新打开；仍然闪退的，卸载后到应用商店安装最新版本。"
              "安卓11及以上版本需授予存储权限，否则启动时可能白屏。",
         tags=["闪退", "白屏", "缓存"]),
    dict(id="mo-push", type="faq", product_code="mobile_office", audience="customer",
         title="移动办公收不到消息提醒",
         body="请检查手机是否允许移动办公发送通知，并将其加入省电模式的白名单（后台运行不受限制）。"
              "华为、小米等手机还需在“自启动管理”中允许移动办公自启动。",
         tags=["消息推送", "通知"]),
    dict(id="mo-attendance-range", type="faq", product_code="mobile_office", audience="customer",
         title="移动办公考勤打卡提示“不在考勤范围内”",
         body="考勤范围由管理员在后台按办公地点设置，默认半径300米。请确认手机已开启定位服务并授权移动办公使用位置；"
              "在办公室内仍提示不在范围的，请管理员适当扩大考勤半径。",
         tags=["考勤", "打卡"]),
    dict(id="mo-meeting", type="faq", product_code="mobile_office", audience="customer",
         title="移动办公视频会议最多多少人？",
         body="专业版视频会议单场最多支持50方同时入会，基础版不含视频会议。超过50方的大型会议请使用云视讯。",
         tags=["视频会议"]),
    dict(id="mo-approval-draft", type="service_script", product_code="mobile_office", state="draft",
         title="移动办公审批流程配置（草稿）",
         body="待补充：多级审批、会签与或签的区别。", tags=["审批"]),

    # --- 集团通讯录 group_directory ------------------------------------------------------------------------
    dict(id="gd-import-faq", type="faq", product_code="group_directory", audience="customer",
         title="集团通讯录如何批量导入员工？",
         body="登录管理后台→通讯录管理→批量导入，下载Excel模板按列填写姓名、手机号、部门后上传，单次最多导入5000人。",
         tags=["批量导入", "模板"]),
    dict(id="gd-import-fail", type="service_script", product_code="group_directory",
         title="通讯录批量导入报错的答复口径",
         body="导入提示“第N行手机号格式错误”：请用户检查该行手机号是否为11位、有无空格。"
              "提示“模板不正确”：模板的列顺序不能修改，请重新下载最新模板填写。文件须为xlsx格式，单次不超过5000行。"
              "仍无法导入的，请用户将文件发给客户经理转产品经理处理。",
         tags=["批量导入", "导入失败"]),
    dict(id="gd-sync", type="faq", product_code="group_directory", audience="customer",
         title="后台修改通讯录后手机端没有更新",
         body="手机端每天凌晨自动同步一次，也可在通讯录页面下拉刷新立即同步。刷新后仍显示旧数据的，请退出账号重新登录。",
         tags=["同步", "刷新"]),
    dict(id="gd-tariff", type="tariff", product_code="group_directory", audience="customer",
         title="集团通讯录资费标准",
         body="集团通讯录按集团成员数包月收费：200人以下每月50元，200至1000人每月150元，1000人以上每月300元。"
              "开通当月免费。", tags=["资费", "包月"]),
    dict(id="gd-privacy-guide", type="complaint_guide", product_code="group_directory",
         title="通讯录号码泄露投诉处理指引",
         body="员工投诉其手机号被通讯录对外公开：先核实该集团是否开启了“外部可见”。"
              "指导管理员在后台关闭外部可见或为该成员设置号码隐藏；涉及信息泄露造成损失的，升级产品经理和法务。",
         tags=["隐私", "号码隐藏"]),
    dict(id="gd-admin-manual", type="manual", product_code="group_directory", audience="customer",
         title="集团通讯录管理后台操作手册：部门与成员",
         body="部门管理：新建、重命名、拖动调整部门顺序；成员管理：添加、编辑、调动部门、删除成员；"
              "批量操作：批量导入、批量调整部门。", tags=["管理后台", "成员"]),
    dict(id="gd-hide", type="faq", product_code="group_directory", audience="customer",
         title="如何隐藏领导的手机号码？",
         body="管理员在管理后台→成员管理中选择该成员，开启“号码隐藏”后，其他成员只能看到姓名和职务，"
              "拨打时由平台转接。", tags=["号码隐藏", "隐私"]),
    dict(id="gd-export", type="faq", product_code="group_directory", audience="customer",
         title="集团通讯录能导出吗？",
         body="管理员可在管理后台→通讯录管理→导出，导出为Excel表格；普通成员没有导出权限。",
         tags=["导出", "Excel"]),
    dict(id="gd-duplicate", type="service_script", product_code="group_directory",
         title="通讯录中同一人重复显示的答复口径",
         body="同一成员出现两条记录，多因批量导入时手机号前后有空格被识别为两个号码。"
              "请管理员在后台搜索该姓名，删除多余的一条后重新同步。", tags=["重复联系人"]),
    dict(id="gd-training", type="training", product_code="group_directory", audience="account_manager",
         title="集团通讯录产品培训（客户经理版）",
         body="产品卖点：统一的组织架构、号码隐藏、与移动办公账号互通；常见异议的应答；开通流程和资费。",
         tags=["培训", "产品介绍"]),

    # --- 外勤通 field_force ----------------------------------------------------------------------------------
    dict(id="ff-checkin-faq", type="faq", product_code="field_force", audience="customer",
         title="外勤通签到提示定位失败怎么办？",
         body="请确认手机已打开GPS并允许外勤通始终使用位置信息；在室内或地下室时卫星信号弱，请到窗边或室外重新签到。"
              "仍提示定位失败的，重启手机后再试。", tags=["签到", "定位失败", "打卡"]),
    dict(id="ff-location-script", type="service_script", product_code="field_force",
         title="外勤通定位不准的答复口径",
         body="室内定位偏差在200米以内属于正常现象，主要由基站定位和WiFi定位精度造成。"
              "偏差超过1公里的，请用户提供签到时间和截图，转厂家核查。", tags=["定位", "偏差"]),
    dict(id="ff-tariff", type="tariff", product_code="field_force", audience="customer",
         title="外勤通资费标准",
         body="外勤通按终端收费，每终端每月8元，含轨迹查询、签到、拍照上报和工作日志；集团50终端以上九折。",
         tags=["资费"]),
    dict(id="ff-track-manual", type="manual", product_code="field_force", audience="customer",
         title="外勤通轨迹查询操作指南",
         body="管理员登录外勤通管理后台→轨迹查询，选择人员和日期即可回放当天行动轨迹；轨迹数据保存90天。",
         tags=["轨迹"]),
    dict(id="ff-privacy-guide", type="complaint_guide", product_code="field_force",
         title="外勤通员工隐私投诉处理指引",
         body="员工投诉单位用外勤通在下班后跟踪其位置：说明外勤通仅在管理员设置的工作时段内采集位置，"
              "指导集团管理员检查考勤时段设置；员工可在工作时段外关闭位置上报。涉及劳动纠纷的，建议员工与单位协商。",
         tags=["隐私", "位置"]),
    dict(id="ff-battery", type="faq", product_code="field_force", audience="customer",
         title="外勤通很耗电怎么办？",
         body="外勤通在工作时段每5分钟上报一次位置，会增加耗电。管理员可把上报间隔调整为15分钟；"
              "员工可开启手机的省电定位模式。", tags=["耗电", "电量"]),
    dict(id="ff-training", type="training", product_code="field_force", audience="account_manager",
         title="外勤通试点地市培训材料",
         body="面向试点地市的客户经理和集团管理员：产品功能、开通流程、常见问题和投诉处理要点。",
         tags=["培训", "试点"]),
    dict(id="ff-offline", type="faq", product_code="field_force", audience="customer",
         title="没有网络的地方外勤通能签到吗？",
         body="支持离线签到：没有网络时签到记录先保存在手机上，恢复网络后自动上传，签到时间以实际签到时刻为准。",
         tags=["离线签到", "签到"]),
    dict(id="ff-report-manual", type="manual", product_code="field_force", audience="customer",
         title="外勤通拍照上报与工作日志使用说明",
         body="在首页点击“拍照上报”，拍摄现场照片并填写说明后提交，照片自动带时间和位置水印；工作日志每天可提交一次。",
         tags=["拍照上报", "工作日志"]),

    # --- 企业彩铃 enterprise_ringtone -------------------------------------------------------------------------
    dict(id="er-setup", type="faq", product_code="enterprise_ringtone", audience="customer",
         title="企业彩铃如何设置和更换？",
         body="管理员登录企业彩铃管理平台，上传或选择铃音，提交审核，审核通过后24小时内对全体成员生效。"
              "更换铃音同样需要重新审核。", tags=["彩铃", "设置"]),
    dict(id="er-tariff", type="tariff", product_code="enterprise_ringtone", audience="customer",
         title="企业彩铃资费",
         body="每成员每月5元功能费；铃音制作费每条200元，使用平台模板免费。", tags=["资费", "彩铃"]),
    dict(id="er-not-hear", type="service_script", product_code="enterprise_ringtone",
         title="企业彩铃听不到的答复口径",
         body="主叫听不到企业彩铃，常见原因：1. 铃音审核通过不足24小时；2. 被叫成员本人开通了个人彩铃，个人彩铃优先播放；"
              "3. 被叫号码不在集团成员名单中。请逐项核实后答复。", tags=["彩铃", "听不到"]),
    dict(id="er-complaint", type="complaint_guide", product_code="enterprise_ringtone",
         title="彩铃未经同意开通并扣费的投诉处理指引",
         body="投诉人称未同意开通企业彩铃却被扣费：查询订购记录和集团成员添加记录，确认是否由集团管理员统一添加。"
              "属集团统一开通的，告知其联系本单位管理员；无法提供订购依据的，为其退订并退还已扣费用。",
         tags=["扣费", "未经同意", "退费"]),
    dict(id="er-audit-manual", type="manual", product_code="enterprise_ringtone",
         title="企业彩铃内容审核规范",
         body="铃音内容不得含有违法违规、低俗、虚假宣传内容；不得使用未经授权的音乐；时长不超过48秒。",
         tags=["审核"]),

    # --- 集团短信 group_sms -----------------------------------------------------------------------------------
    dict(id="sms-send-fail", type="faq", product_code="group_sms", audience="customer",
         title="集团短信发送失败或对方收不到怎么办？",
         body="请检查：1. 短信签名是否已报备；2. 内容是否含敏感词被拦截；3. 接收号码是否在黑名单或已退订。"
              "发送报告显示“成功”但对方没收到的，可能是对方手机的骚扰拦截，请对方检查拦截记录。",
         tags=["发送失败", "收不到", "签名"]),
    dict(id="sms-tariff", type="tariff", product_code="group_sms", audience="customer",
         title="集团短信资费",
         body="行业短信0.05元每条，营销短信0.06元每条；预存10000元以上享0.04元每条。长短信按70字一条计费。",
         tags=["资费", "短信"]),
    dict(id="sms-verify-script", type="service_script", product_code="group_sms",
         title="验证码短信延迟的答复口径",
         body="客户反映其系统发出的验证码短信延迟或丢失：先查询平台发送记录和状态报告，"
              "高峰期排队时延一般不超过30秒；超过5分钟的，请记录发送号码和时间，转厂家排查通道。",
         tags=["验证码", "延迟"]),
    dict(id="sms-spam-guide", type="complaint_guide", product_code="group_sms",
         title="垃圾短信投诉处理指引",
         body="接收方投诉收到骚扰营销短信：根据端口号查出发送集团，核实是否有用户订阅记录；"
              "无订阅依据的，暂停该集团营销短信通道并将投诉号码加入黑名单，三个工作日内答复投诉人。",
         tags=["垃圾短信", "骚扰"]),
    dict(id="sms-api-manual", type="manual", product_code="group_sms",
         title="集团短信平台HTTP接口接入手册",
         body="接口地址、鉴权方式（账号+签名）、发送接口与状态报告回调的参数说明，以及错误码列表。",
         tags=["接口", "API"]),

    # --- 云视讯 cloud_video_conf ------------------------------------------------------------------------------
    dict(id="cv-join", type="faq", product_code="cloud_video_conf", audience="customer",
         title="云视讯如何加入会议？",
         body="打开云视讯客户端点击“加入会议”，输入9位会议号和入会密码；也可点击会议邀请短信中的链接直接入会。",
         tags=["加入会议", "会议号"]),
    dict(id="cv-audio", type="faq", product_code="cloud_video_conf", audience="customer",
         title="云视讯开会时听不到声音",
         body="请检查：1. 是否已点击“连接音频”；2. 手机是否处于静音或音量过低；3. 是否授予了麦克风权限。"
              "对方听不到你说话时，检查自己是否被主持人静音。", tags=["听不到", "音频"]),
    dict(id="cv-tariff", type="tariff", product_code="cloud_video_conf", audience="customer",
         title="云视讯资费说明",
         body="按会议室方数包月：25方会议室每月300元，100方会议室每月1000元；按次使用每方每分钟0.1元。",
         tags=["资费", "包月"]),
    dict(id="cv-lag-script", type="service_script", product_code="cloud_video_conf",
         title="云视讯会议卡顿的答复口径",
         body="用户反映会议画面卡顿、声音断断续续：请用户检查网络带宽（建议上行2M以上），关闭其他占用网络的应用，"
              "或切换为“流畅优先”画质。多人同时卡顿的，记录会议号转厂家核查。", tags=["卡顿", "网络"]),

    # --- 集团流量池 traffic_pool -----------------------------------------------------------------------------
    dict(id="tp-tariff", type="tariff", product_code="traffic_pool", audience="customer",
         title="集团流量池资费说明",
         body="流量池按月订购：100GB每月300元，500GB每月1200元，1TB每月2000元。池内流量当月有效，不结转。"
              "超出部分按每GB 5元收取。", tags=["资费", "流量"]),
    dict(id="tp-allot", type="faq", product_code="traffic_pool", audience="customer",
         title="流量池如何给员工分配流量？",
         body="管理员登录流量池管理平台→成员管理，可为每个成员设置每月可用流量上限，也可设置为共享不限额。",
         tags=["分配", "流量"]),
    dict(id="tp-overuse-guide", type="complaint_guide", product_code="traffic_pool",
         title="流量池超出扣费投诉处理指引",
         body="集团投诉流量池超出后被高额扣费：先核实是否设置了超出提醒和封顶；"
              "平台未按约定发送超出提醒短信的，按约定减免超出费用；已发送提醒的，向集团解释计费规则并建议设置封顶。",
         tags=["扣费", "超出", "封顶"]),
    dict(id="tp-balance", type="faq", product_code="traffic_pool", audience="customer",
         title="如何查询流量池剩余流量？",
         body="管理员可在管理平台首页查看本月已用和剩余流量；成员可发送短信CXLL到10086查询本人可用额度。",
         tags=["查询", "剩余流量"]),

    # --- 企业邮箱 enterprise_mail ----------------------------------------------------------------------------
    dict(id="em-password", type="faq", product_code="enterprise_mail", audience="customer",
         title="企业邮箱忘记密码无法登录",
         body="在登录页点击“忘记密码”，通过绑定的手机号接收验证码重置密码；未绑定手机号的，请联系本单位邮箱管理员重置。",
         tags=["忘记密码", "登录"]),
    dict(id="em-client-manual", type="manual", product_code="enterprise_mail", audience="customer",
         title="企业邮箱在Outlook和手机上的设置方法",
         body="收件服务器IMAP：imap.example-mail.cn 端口993（SSL）；发件服务器SMTP：smtp.example-mail.cn 端口465（SSL）。"
              "用户名为完整邮箱地址。", tags=["Outlook", "IMAP", "设置"]),
    dict(id="em-inbound", type="faq", product_code="enterprise_mail", audience="customer",
         title="企业邮箱收不到外部邮件",
         body="请先查看垃圾邮件箱；再请管理员检查域名的MX记录是否正确，以及是否设置了过于严格的反垃圾规则。",
         tags=["收不到", "垃圾邮件"]),

    # --- 校园一卡通 campus_card ------------------------------------------------------------------------------
    dict(id="cc-lost", type="faq", product_code="campus_card", audience="customer",
         title="校园一卡通丢失后如何挂失和补卡？",
         body="学生可在微信公众号“一卡通”中立即挂失，挂失后卡内余额冻结；带学生证到学校卡务中心补办新卡，"
              "余额自动转入新卡。", tags=["挂失", "补卡"]),
    dict(id="cc-recharge", type="faq", product_code="campus_card", audience="customer",
         title="一卡通充值后余额没到账",
         body="线上充值到账一般不超过10分钟；超过2小时未到账的，请提供充值订单号联系学校卡务中心核查，核实后补入。",
         tags=["充值", "到账"]),
    dict(id="cc-fees", type="tariff", product_code="campus_card", audience="customer",
         title="校园一卡通收费项目",
         body="首次办卡免费；补卡工本费每张20元；卡片损坏换卡每张15元。", tags=["补卡", "工本费"]),

    # --- 家校通知 home_school_notice -------------------------------------------------------------------------
    dict(id="hs-not-received", type="faq", product_code="home_school_notice", audience="customer",
         title="家长收不到学校发的通知",
         body="请确认家长手机号已由班主任加入班级名单；短信通知可能被手机拦截，请检查拦截记录；"
              "使用APP接收的，请确认已登录并开启通知权限。", tags=["收不到", "通知"]),
    dict(id="hs-tariff", type="tariff", product_code="home_school_notice", audience="customer",
         title="家校通知资费", body="家校通知每个家长号码每月3元，按学期订购每学期15元。", tags=["资费"]),
    dict(id="hs-billing-guide", type="complaint_guide", product_code="home_school_notice",
         title="家长称未订购家校通知却被扣费的投诉处理指引",
         body="查询订购渠道与订购时间：学校统一办理的，出示学校提交的名单；无订购依据的，立即退订并退还费用，"
              "并向投诉人致歉。", tags=["扣费", "未订购"]),

    # --- 千里眼 remote_eye -----------------------------------------------------------------------------------
    dict(id="re-offline", type="faq", product_code="remote_eye", audience="customer",
         title="千里眼摄像头显示离线怎么办？",
         body="请检查摄像头电源指示灯和网线；使用WiFi连接的，确认路由器正常且密码未修改。"
              "断电重启摄像头后等待2分钟，仍离线的请联系装维人员上门。", tags=["离线", "摄像头"]),
    dict(id="re-tariff", type="tariff", product_code="remote_eye", audience="customer",
         title="千里眼资费与云存储套餐",
         body="千里眼基础服务每路每月10元；云存储7天循环录像每路每月5元，30天循环录像每路每月15元。",
         tags=["资费", "云存储", "录像"]),

    # --- general (no product) ----------------------------------------------------------------------------
    dict(id="gen-sim", type="faq", product_code=None, audience="customer",
         title="手机卡丢了怎么补卡？",
         body="本人携带有效身份证件到任一营业厅办理补卡，补卡后原卡立即失效；补卡费每张10元。"
              "集团统付号码补卡需同时提供单位介绍信。", tags=["补卡", "SIM卡"]),
    dict(id="gen-complaint-process", type="complaint_guide", product_code=None,
         title="投诉受理与升级规范（2026版）",
         body="投诉应在4个工作小时内首次响应，5个工作日内答复，最长不得超过15个自然日；"
              "处理期间每个工作日向投诉人通报进度。一线无法解决的，升级产品经理；需要厂家处理的，由产品经理转厂家。",
         tags=["投诉", "时限", "升级"]),
    dict(id="gen-sla-training", type="training", product_code=None,
         title="客服支撑流程培训：首次响应与答复时限",
         body="咨询类工单4个工作小时内响应、2个工作日内答复；故障按级别15分钟至2小时响应。"
              "答复时优先引用客服口径，口径没有覆盖的问题转产品经理。", tags=["培训", "时限", "客服口径"]),
    dict(id="gen-refund-guide", type="complaint_guide", product_code=None,
         title="退费申请办理规范",
         body="确认应退费的，在BOSS系统提交退费申请，附账单截图和核实结论；退费原路返还，一般5个工作日内到账。",
         tags=["退费", "扣费"]),
    dict(id="gen-am-training", type="training", product_code=None, audience="account_manager",
         title="客户经理信息化产品推广培训",
         body="如何向集团客户介绍移动办公、集团通讯录和外勤通的组合方案；常见行业案例；试用申请流程。",
         tags=["培训", "推广"]),
    dict(id="gen-realname", type="faq", product_code=None, audience="customer",
         title="集团成员实名认证一直失败",
         body="实名认证需上传本人身份证正反面和人脸识别；照片模糊、反光或证件过期都会导致认证失败。"
              "多次失败的，请本人到营业厅现场认证。", tags=["实名认证"]),
    dict(id="gen-invoice", type="faq", product_code=None, audience="customer",
         title="集团业务如何开具发票？",
         body="集团统付业务由客户经理在系统中申请开具增值税发票，每月10日后可开具上月发票，电子发票发送到预留邮箱。",
         tags=["发票", "开票"]),
    dict(id="gen-password", type="faq", product_code=None, audience="customer",
         title="服务密码忘了怎么重置？",
         body="发送短信MMCZ到10086，或在营业厅携带身份证重置服务密码。服务密码与移动办公、企业邮箱的登录密码无关。",
         tags=["服务密码", "重置密码"]),
]

ARTICLES: list[dict] = [{"tags": [], "audience": "internal", "state": "published", **a} for a in A]

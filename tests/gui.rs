//! The whole app under egui_kittest, rendered with wgpu (lavapipe on machines without a GPU).
//!
//! Snapshots live in `tests/snapshots/`; after an intended visual change, regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test --test gui` and look at the new PNGs before committing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Event, Key, MouseWheelUnit, Pos2, Vec2};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::{Harness, SnapshotOptions};
use radlens::app::RadlensApp;
use radlens::imaging::Window;
use radlens::ui::view::pixel_centre;

const SIZE: [f32; 2] = [1100.0, 700.0];
/// Width of the series list on the left (theme::SIDE_PANEL_WIDTH plus margins), in pixels at 1 ppp.
const SIDE_PANEL: u32 = 220;

/// Builds the app on `paths` (the demo when empty) and waits until the series is shown.
fn app(paths: Vec<PathBuf>) -> Harness<'static, RadlensApp> {
    app_sized(paths, SIZE)
}

fn app_sized(paths: Vec<PathBuf>, size: [f32; 2]) -> Harness<'static, RadlensApp> {
    app_reviewing(paths, size, scratch_reviews())
}

/// Never the user's review folder: one that exists only if a test saves into it.
fn scratch_reviews() -> PathBuf {
    std::env::temp_dir().join(format!("radlens-gui-reviews-{}", std::process::id()))
}

/// The app with its review files in `review_dir`.
fn app_reviewing(
    paths: Vec<PathBuf>,
    size: [f32; 2],
    review_dir: PathBuf,
) -> Harness<'static, RadlensApp> {
    build(paths, size, 1.0, review_dir)
}

/// Every snapshot test: the demo study without its model (a snapshot does not wait for, or
/// depend on, a model) at one size, scale and tolerance, after `interact`, compared with
/// `tests/snapshots/{name}.png`.
fn snapshot(name: &str, interact: impl FnOnce(&mut Harness<'_, RadlensApp>)) {
    // Smaller than the tests' window and at a lower scale: the committed PNGs stay small.
    const SNAPSHOT_SIZE: [f32; 2] = [960.0, 540.0];
    const SNAPSHOT_PIXELS_PER_POINT: f32 = 0.6;
    let demo = radlens::app::demo_study().unwrap();
    let mut harness = build(
        vec![demo],
        SNAPSHOT_SIZE,
        SNAPSHOT_PIXELS_PER_POINT,
        scratch_reviews(),
    );
    interact(&mut harness);
    harness.snapshot_options(
        name,
        &SnapshotOptions::new().threshold(2.0).max_failed_pixels(200),
    );
}

/// The app on `paths` at `size` and `pixels_per_point`, reviewing into `review_dir`, once its
/// study is shown and no job runs.
fn build(
    paths: Vec<PathBuf>,
    size: [f32; 2],
    pixels_per_point: f32,
    review_dir: PathBuf,
) -> Harness<'static, RadlensApp> {
    let mut harness = Harness::builder()
        .with_size(size)
        .with_pixels_per_point(pixels_per_point)
        // Worker replies (progress, predictions) keep asking for repaints for a few frames.
        .with_max_steps(32)
        .wgpu()
        .build_eframe(move |cc| {
            let mut app = RadlensApp::new(cc, paths);
            app.set_review_dir(review_dir);
            app
        });
    let deadline = Instant::now() + Duration::from_mins(1);
    while harness.state().study.is_none() || !harness.state().is_idle() {
        assert!(
            Instant::now() < deadline,
            "study did not load: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run();
    harness
}

fn viewport_centre(harness: &Harness<'_, RadlensApp>) -> Pos2 {
    harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .image_rect
        .unwrap()
        .center()
}

fn slice(harness: &Harness<'_, RadlensApp>) -> usize {
    harness.state().study.as_ref().unwrap().view.slice
}

fn window(harness: &Harness<'_, RadlensApp>) -> Window {
    harness.state().study.as_ref().unwrap().view.window
}

#[test]
fn demo_opens_and_renders_image_content() {
    let mut harness = app(Vec::new());
    let study = harness.state().study.as_ref().unwrap();
    assert_eq!(study.volume.modality, "CT");
    let rect = study.image_rect.unwrap();
    let image = harness.render().unwrap();
    let mut greys = std::collections::HashSet::new();
    for y in (rect.min.y as u32 + 10..rect.max.y as u32 - 10).step_by(3) {
        for x in (rect.min.x as u32 + 10..rect.max.x as u32 - 10).step_by(3) {
            greys.insert(image.get_pixel(x, y).0);
        }
    }
    assert!(
        greys.len() > 50,
        "viewport looks blank: {} distinct colours",
        greys.len()
    );
}

#[test]
fn wheel_changes_the_slice() {
    let mut harness = app(vec![common::data("dicom/series/mr_brain_t1_sag_35sl")]);
    let before = slice(&harness);
    harness.hover_at(viewport_centre(&harness));
    harness.run();
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: Vec2::new(0.0, -1.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    harness.run();
    assert_eq!(slice(&harness), before + 1);
    harness.key_press(Key::ArrowUp);
    harness.key_press(Key::ArrowUp);
    harness.run();
    assert_eq!(slice(&harness), before - 1);
    harness.key_press(Key::End);
    harness.run();
    assert_eq!(slice(&harness), 34);
}

#[test]
fn left_drag_changes_window_level() {
    let mut harness = app(vec![common::data("dicom/series/mr_prostate_adc_20sl")]);
    let before = window(&harness);
    let start = viewport_centre(&harness);
    harness.hover_at(start);
    harness.run();
    harness.drag_at(start);
    harness.run();
    for step in 1..=5 {
        harness.hover_at(start + Vec2::new(10.0 * step as f32, 6.0 * step as f32));
        harness.run();
    }
    harness.drop_at(start + Vec2::new(50.0, 30.0));
    harness.run();
    let after = window(&harness);
    assert!(after.width > before.width, "{before:?} → {after:?}");
    assert!(after.center > before.center, "{before:?} → {after:?}");
}

#[test]
fn key_1_applies_the_lung_preset_and_0_restores() {
    let mut harness = app(Vec::new());
    let default = window(&harness);
    harness.key_press(Key::Num1);
    harness.run();
    assert_eq!(
        window(&harness),
        Window {
            center: -600.0,
            width: 1500.0
        }
    );
    harness.key_press(Key::Num0);
    harness.run();
    assert_eq!(window(&harness), default);
}

#[test]
fn hover_reports_the_hounsfield_value_of_the_voxel() {
    let file = common::data("dicom/single/ct_wg04_CT1_UNC.dcm");
    let reference = common::load(&file);
    let mut harness = app(vec![file]);
    let (col, row) = (256, 300);
    let expected = reference.value(0, row, col).unwrap();
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    harness.hover_at(pixel_centre(col, row, rect, 512, 512));
    harness.run();
    let hover = harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .hover
        .clone()
        .unwrap();
    assert_eq!((hover.col, hover.row), (col, row));
    let text = format!("value {expected:.0} HU");
    harness.get_by_label_contains(&text);
}

/// Pixels of the ROI outline colour inside the image.
fn outline_pixels(harness: &mut Harness<'_, RadlensApp>) -> usize {
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let image = harness.render().unwrap();
    let [r, g, b] = radlens::imaging::OUTLINE_RGB;
    image
        .enumerate_pixels()
        .filter(|(x, y, p)| rect.contains(Pos2::new(*x as f32, *y as f32)) && p.0[..3] == [r, g, b])
        .count()
}

#[test]
fn every_series_gets_a_thumbnail() {
    let mut harness = app(vec![common::data("dicom/series/ct_3slice_with_seg")]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.state().thumbnail_count() < 3 {
        assert!(
            Instant::now() < deadline,
            "{} thumbnails",
            harness.state().thumbnail_count()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(harness.state().scan.as_ref().unwrap().series.len(), 3);
}

#[test]
fn colour_images_render_in_colour() {
    let mut harness = app(vec![common::data(
        "dicom/single/us_pdd_OBXXXX1A_rle_palette.dcm",
    )]);
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let image = harness.render().unwrap();
    let coloured = image
        .enumerate_pixels()
        .filter(|(x, y, p)| {
            rect.contains(Pos2::new(*x as f32, *y as f32))
                && (p.0[0].abs_diff(p.0[1]) > 30 || p.0[1].abs_diff(p.0[2]) > 30)
        })
        .count();
    assert!(coloured > 100, "{coloured} coloured pixels");
}

#[test]
fn segmentation_outline_is_drawn_and_toggles_with_m() {
    let mut harness = app(vec![common::data("dicom/series/ct_3slice_with_seg")]);
    assert_eq!(
        harness.state().study.as_ref().unwrap().volume.modality,
        "CT"
    );
    let shown = outline_pixels(&mut harness);
    assert!(
        shown > 200,
        "liver outline expected, {shown} outline pixels"
    );
    harness.key_press(Key::M);
    harness.run();
    assert_eq!(outline_pixels(&mut harness), 0);
}

#[test]
fn main_view_snapshot() {
    snapshot("main_view", |_| {});
}

#[test]
fn tag_browser_filters_and_snapshot() {
    snapshot("tag_browser", |harness| {
        harness
            .get_by_role(egui::accesskit::Role::TextInput)
            .click();
        harness.run();
        harness
            .get_by_role(egui::accesskit::Role::TextInput)
            .type_text("0028");
        harness.run();
        harness.get_by_label_contains("(0028,0030)");
    });
}

#[test]
fn unreadable_path_shows_a_dismissible_error_naming_it() {
    let mut harness = Harness::builder()
        .with_size(SIZE)
        .wgpu()
        .build_eframe(|cc| RadlensApp::new(cc, vec![PathBuf::from("/no/such/study")]));
    let deadline = Instant::now() + Duration::from_secs(20);
    while harness.state().error.is_none() {
        assert!(Instant::now() < deadline);
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run();
    harness.get_by_label_contains("/no/such/study");
    harness.get_by_label("Dismiss").click();
    harness.run();
    assert!(harness.state().error.is_none());
}

#[test]
fn model_predicts_the_slice_on_screen_and_follows_scrolling() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_model(dir.path(), 2);
    std::fs::write(dir.path().join("tiny.toml"), common::MANIFEST).unwrap();
    let mut harness = app(vec![common::data("dicom/series/mr_prostate_adc_20sl")]);
    let ctx = harness.ctx.clone();
    harness.state_mut().open_model(model, &ctx);
    let prediction_for = |harness: &mut Harness<'_, RadlensApp>, slice: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            harness.step();
            let state = harness.state();
            if let Some((s, Ok(p))) = state.model.as_ref().and_then(|m| m.prediction.as_ref())
                && *s == slice
            {
                return p.probabilities.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no prediction for slice {slice}: {:?}",
                state.error
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = slice(&harness);
    let p = prediction_for(&mut harness, first);
    assert_eq!(p.len(), 2);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    harness.key_press(Key::ArrowDown);
    harness.run();
    prediction_for(&mut harness, first + 1);
    harness.run();
    harness.get_by_label_contains("tiny test net");
}

/// A file dropped on the window, as the platform layer hands it to egui.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn dropping_a_folder_opens_it() {
    let mut harness = app(Vec::new());
    let folder = common::data("dicom/series/mr_brain_t1_sag_35sl");
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(folder)));
    harness.step();
    let deadline = Instant::now() + Duration::from_mins(1);
    while harness.state().study.as_ref().unwrap().volume.modality != "MR"
        || !harness.state().is_idle()
    {
        assert!(
            Instant::now() < deadline,
            "dropped folder did not open: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(harness.state().study.as_ref().unwrap().volume.shape[0], 35);
}

#[test]
fn clicking_a_series_in_the_list_loads_it() {
    let mut harness = app(vec![common::data("dicom/series/ct_3slice_with_seg")]);
    assert_eq!(
        harness.state().study.as_ref().unwrap().volume.modality,
        "CT"
    );
    harness
        .get_by_label_contains("SEG Liver Segmentation")
        .click();
    harness.run();
    let deadline = Instant::now() + Duration::from_mins(1);
    while harness.state().study.as_ref().unwrap().volume.modality != "SEG"
        || !harness.state().is_idle()
    {
        assert!(
            Instant::now() < deadline,
            "series did not load: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        harness.state().study.as_ref().unwrap().volume.shape,
        [3, 512, 512]
    );
}

/// Steps the app until `done` holds (or fails after `secs`).
fn wait_for(
    harness: &mut Harness<'_, RadlensApp>,
    secs: u64,
    what: &str,
    done: impl Fn(&RadlensApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(harness.state()) {
        assert!(
            Instant::now() < deadline,
            "{what}: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn heat_on_screen(state: &RadlensApp) -> Option<Arc<radlens::explain::Heatmap>> {
    let study = state.study.as_ref()?;
    state
        .model
        .as_ref()?
        .heatmap_for(0, &study.volume, study.view.slice)
        .cloned()
}

/// A pixel of the heat overlay (or other colour), not a grey one of the slice.
fn is_colour(p: [u8; 4]) -> bool {
    p[0].abs_diff(p[1]) > 40 || p[1].abs_diff(p[2]) > 40
}

/// The first `panes` panes all have a heatmap of the slice on screen.
fn panes_explained(state: &RadlensApp, panes: usize) -> bool {
    let (Some(study), Some(model)) = (state.study.as_ref(), state.model.as_ref()) else {
        return false;
    };
    (0..panes).all(|p| {
        model
            .heatmap_for(p, &study.volume, study.view.slice)
            .is_some()
    })
}

fn coloured_pixels(harness: &mut Harness<'_, RadlensApp>) -> usize {
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let image = harness.render().unwrap();
    image
        .enumerate_pixels()
        .filter(|(x, y, p)| rect.contains(Pos2::new(*x as f32, *y as f32)) && is_colour(p.0))
        .count()
}

/// Screen pixels a heatmap should colour at the default display threshold (0.2 of its largest
/// magnitude): its pixels at ≥ 25 % of that magnitude, at the image's on-screen scale. A compact
/// map (the demo's Grad-CAM is one lesion-sized blob) colours far less than a diffuse one.
fn expected_overlay_pixels(heatmap: &radlens::explain::Heatmap, on_screen: egui::Rect) -> usize {
    let max = heatmap.values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let strong = heatmap
        .values
        .iter()
        .filter(|v| v.abs() >= 0.25 * max)
        .count();
    (strong as f32 * on_screen.area() / (heatmap.rows * heatmap.cols) as f32) as usize
}

/// Waits until the demo model is loaded and has predicted the slice on screen, so the model card
/// (and the buttons in it) no longer moves.
fn wait_for_model(harness: &mut Harness<'_, RadlensApp>) {
    wait_for(harness, 60, "demo model predicts", |s| {
        s.model.as_ref().is_some_and(|m| m.prediction.is_some())
    });
    harness.run();
}

#[test]
fn demo_model_explains_the_slice_on_screen_follows_scrolling_and_cancels() {
    let mut harness = app(Vec::new());
    wait_for_model(&mut harness);
    harness.get_by_label_contains("lesion present vs absent");
    // Before explaining only the overlay text and the study mask's outline are coloured.
    let before = coloured_pixels(&mut harness);
    assert!(
        before < 500,
        "no overlay before explaining: {before} pixels"
    );

    // Explain (Grad-CAM, the default) with the button: a heatmap on the slice grid, drawn.
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Explain")
        .click();
    harness.run();
    wait_for(&mut harness, 60, "Grad-CAM heatmap", |s| {
        heat_on_screen(s).is_some()
    });
    let heatmap = heat_on_screen(harness.state()).unwrap();
    assert_eq!(heatmap.provenance.method, radlens::explain::Method::GradCam);
    assert_eq!((heatmap.rows, heatmap.cols), (512, 512));
    harness.run();
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let expected = expected_overlay_pixels(&heatmap, rect);
    let coloured = coloured_pixels(&mut harness);
    assert!(
        expected > 100,
        "the map is too faint to see: {expected} pixels"
    );
    assert!(
        coloured > before + expected / 2,
        "overlay not drawn: {coloured} coloured pixels, {before} before, {expected} expected"
    );

    // Follow slice: scrolling explains the new slice.
    harness.state_mut().model.as_mut().unwrap().panes[0]
        .choice
        .follow = true;
    let first = slice(&harness);
    harness.key_press(Key::ArrowDown);
    harness.run();
    assert_ne!(slice(&harness), first);
    wait_for(&mut harness, 60, "heatmap of the next slice", |s| {
        heat_on_screen(s).is_some()
    });

    // A long method, cancelled with Esc: nothing runs any more and its map never arrives.
    let session = harness.state_mut().model.as_mut().unwrap();
    session.panes[0].choice.follow = false;
    session.panes[0].choice.method = radlens::explain::Method::KernelShap;
    harness.key_press(Key::ArrowUp);
    harness.run();
    harness.key_press(Key::E);
    harness.run();
    assert!(
        harness.state().model.as_ref().unwrap().panes[0]
            .running
            .is_some()
    );
    harness.key_press(Key::Escape);
    harness.run();
    assert!(
        harness.state().model.as_ref().unwrap().panes[0]
            .running
            .is_none()
    );
    for _ in 0..50 {
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        heat_on_screen(harness.state())
            .is_none_or(|h| h.provenance.method != radlens::explain::Method::KernelShap),
        "a cancelled explanation was shown"
    );
}

#[test]
fn comparison_layout_explains_three_panes_linked_and_scrolls_them_together() {
    let mut harness = app(Vec::new());
    wait_for(&mut harness, 60, "demo model loads", |s| s.model.is_some());
    // The panes share the width right of the series list (no tag browser).
    harness.state_mut().settings.show_tags = false;
    harness.key_press(Key::C);
    harness.run();
    assert_eq!(harness.state().compare.map(|c| c.panes), Some(3));
    wait_for(&mut harness, 120, "three panes explained", |s| {
        panes_explained(s, 3)
    });
    let methods: std::collections::HashSet<_> = harness
        .state()
        .model
        .as_ref()
        .unwrap()
        .panes
        .iter()
        .map(|p| p.choice.method)
        .collect();
    assert_eq!(methods.len(), 3, "each pane shows another method");
    harness.run();

    // Every pane draws its overlay: colour in each third of the window's central area.
    let image = harness.render().unwrap();
    let (width, height) = image.dimensions();
    let central = |third: u32| {
        let x0 = SIDE_PANEL + (width - SIDE_PANEL) * third / 3;
        let x1 = SIDE_PANEL + (width - SIDE_PANEL) * (third + 1) / 3;
        (x0..x1)
            .flat_map(|x| (height / 4..height * 3 / 4).map(move |y| (x, y)))
            .filter(|&(x, y)| is_colour(image.get_pixel(x, y).0))
            .count()
    };
    let state = harness.state();
    let (study, model) = (state.study.as_ref().unwrap(), state.model.as_ref().unwrap());
    let rect = study.image_rect.unwrap();
    for third in 0..3 {
        let heatmap = model
            .heatmap_for(third as usize, &study.volume, study.view.slice)
            .unwrap();
        let expected = expected_overlay_pixels(heatmap, rect);
        assert!(
            expected > 100 && central(third) > expected / 2,
            "pane {} shows no overlay: {} coloured pixels, {expected} expected",
            third + 1,
            central(third)
        );
    }

    // The wheel over the third pane moves the slice of all panes; all are explained again.
    let before = slice(&harness);
    harness.hover_at(Pos2::new(
        (SIDE_PANEL + (width - SIDE_PANEL) * 5 / 6) as f32,
        height as f32 / 2.0,
    ));
    harness.run();
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: Vec2::new(0.0, -1.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    harness.run();
    assert_eq!(slice(&harness), before + 1);
    wait_for(&mut harness, 120, "three panes follow the slice", |s| {
        panes_explained(s, 3)
    });
}

/// Pixels of the drawn-ROI outline colours inside the image.
fn roi_pixels(harness: &mut Harness<'_, RadlensApp>) -> usize {
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let image = harness.render().unwrap();
    let near = |p: [u8; 4], c: egui::Color32| {
        p[0].abs_diff(c.r()) < 25 && p[1].abs_diff(c.g()) < 25 && p[2].abs_diff(c.b()) < 25
    };
    image
        .enumerate_pixels()
        .filter(|(x, y, p)| {
            rect.contains(Pos2::new(*x as f32, *y as f32))
                && (near(p.0, radlens::ui::theme::ROI) || near(p.0, radlens::ui::theme::ROI_ACTIVE))
        })
        .count()
}

/// A left-drag from `from` to `to` in small steps, as a hand would.
fn drag(harness: &mut Harness<'_, RadlensApp>, from: Pos2, to: Pos2) {
    harness.hover_at(from);
    harness.run();
    harness.drag_at(from);
    harness.run();
    for step in 1..=8 {
        harness.hover_at(from + (to - from) * (step as f32 / 8.0));
        harness.run();
    }
    harness.drop_at(to);
    harness.run();
}

#[test]
fn drawing_an_ellipse_roi_with_the_mouse_covers_the_dragged_area() {
    let mut harness = app(Vec::new());
    let window_before = window(&harness);
    harness.key_press(Key::O);
    harness.run();
    assert_eq!(
        harness.state().rois.tool,
        Some(radlens::ui::roi::RoiTool::Ellipse)
    );
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let [_, rows, cols] = harness.state().study.as_ref().unwrap().volume.shape;
    // The box from pixel (150, 200) to pixel (300, 320), corner to corner.
    let corner = |col: f32, row: f32| {
        Pos2::new(
            rect.min.x + col / cols as f32 * rect.width(),
            rect.min.y + row / rows as f32 * rect.height(),
        )
    };
    drag(&mut harness, corner(150.0, 200.0), corner(300.0, 320.0));

    assert_eq!(
        window(&harness),
        window_before,
        "drawing is not window/level"
    );
    let rois = harness.state().rois.rois(slice(&harness)).to_vec();
    assert_eq!(rois.len(), 1, "{rois:?}");
    let mask = rois[0].rasterise(rows, cols).unwrap();
    let inside = |col: usize, row: usize| mask[row * cols + col];
    // Centre and the middles of the box's sides (a pixel in) are inside; corners and beyond not.
    for (col, row) in [(225, 260), (152, 260), (297, 260), (225, 202), (225, 317)] {
        assert!(inside(col, row), "({col}, {row}) should be inside");
    }
    for (col, row) in [(152, 202), (297, 317), (140, 260), (225, 330)] {
        assert!(!inside(col, row), "({col}, {row}) should be outside");
    }
    // Area of the inscribed ellipse: π/4 · 150 · 120 pixels, within the pointer's rounding.
    let area = mask.iter().filter(|m| **m).count() as f64;
    let expected = std::f64::consts::FRAC_PI_4 * 150.0 * 120.0;
    assert!(
        (area / expected - 1.0).abs() < 0.05,
        "{area} pixels, expected about {expected:.0}"
    );

    // Drawn as an outline; Esc leaves the tool, Ctrl+Z removes the ROI.
    assert!(roi_pixels(&mut harness) > 200, "outline not drawn");
    harness.key_press(Key::Escape);
    harness.run();
    assert_eq!(harness.state().rois.tool, None);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, Key::Z);
    harness.run();
    assert!(harness.state().rois.rois(slice(&harness)).is_empty());
    assert_eq!(roi_pixels(&mut harness), 0);
}

/// Opens the metrics panel, explains the slice with the default method and waits for it.
fn explain_with_panel(harness: &mut Harness<'_, RadlensApp>) -> Arc<radlens::explain::Heatmap> {
    wait_for_model(harness);
    harness.key_press(Key::V);
    harness.run();
    assert!(harness.state().metrics.open);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Explain")
        .click();
    harness.run();
    wait_for(harness, 60, "heatmap", |s| heat_on_screen(s).is_some());
    heat_on_screen(harness.state()).unwrap()
}

#[test]
fn metrics_panel_shows_deletion_and_insertion_aucs_of_grad_cam() {
    let mut harness = app(Vec::new());
    let heatmap = explain_with_panel(&mut harness);
    assert_eq!(heatmap.provenance.method, radlens::explain::Method::GradCam);
    harness.run();
    wait_for(&mut harness, 120, "deletion/insertion curves", |s| {
        let heatmap = heat_on_screen(s).unwrap();
        s.model.as_ref().unwrap().panes[0]
            .faithfulness
            .result_for(&heatmap)
            .is_some()
    });
    let faithfulness = harness.state().model.as_ref().unwrap().panes[0]
        .faithfulness
        .result_for(&heatmap)
        .unwrap()
        .clone()
        .expect("faithfulness computed");
    assert_eq!(faithfulness.deletion.fractions.len(), 33);
    harness.run();
    harness.get_by_label(&format!(
        "Deletion AUC {:.3} (lower is better)",
        faithfulness.deletion.auc
    ));
    harness.get_by_label(&format!(
        "Insertion AUC {:.3} (higher is better)",
        faithfulness.insertion.auc
    ));
    wait_for_label(&mut harness, "Sparseness (Gini) 0.");

    // Localisation against the demo study's lesion mask.
    harness.get_by_label("study mask").click();
    harness.run();
    wait_for_label(&mut harness, "Pointing game");
    harness.get_by_label_contains("Relevance mass");
}

/// Steps the app until a widget whose label contains `text` is shown.
fn wait_for_label(harness: &mut Harness<'_, RadlensApp>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.query_all_by_label_contains(text).next().is_none() {
        assert!(Instant::now() < deadline, "no label with {text:?}");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_verdict_given_in_the_panel_is_saved_and_restored_on_reopen() {
    let reviews = tempfile::tempdir().unwrap();
    let mut harness = app_reviewing(Vec::new(), SIZE, reviews.path().to_owned());
    let study_uid = harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .volume
        .study_uid()
        .unwrap()
        .to_owned();
    let shown = slice(&harness);
    let roi = radlens::review::Roi::Rectangle {
        corner_a: [100.0, 120.0],
        corner_b: [200.0, 220.0],
    };
    harness.state_mut().rois.add(shown, roi.clone());
    let heatmap = explain_with_panel(&mut harness);
    // The panel grows as the map's metrics arrive: click once its layout has settled (on a
    // loaded machine a click aimed earlier lands where the button used to be).
    wait_for(&mut harness, 120, "deletion/insertion of the map", |s| {
        s.model
            .as_ref()
            .is_some_and(|m| m.panes[0].faithfulness.result_for(&heatmap).is_some())
    });
    harness.run();
    harness.get_by_label("Plausible").click();
    harness.run();
    let note = harness.get_by_role(egui::accesskit::Role::MultilineTextInput);
    note.click();
    harness.run();
    harness
        .get_by_role(egui::accesskit::Role::MultilineTextInput)
        .type_text("points at the lesion");
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, Key::S);
    harness.run();

    // In the file: the verdict, the note and the ROI, for the slice and method on screen.
    let path = radlens::review::Review::path_in(reviews.path(), &study_uid);
    let saved = radlens::review::Review::load(&path).unwrap();
    assert_eq!(saved.entries.len(), 1);
    let entry = &saved.entries[0];
    assert_eq!(entry.verdict, radlens::review::Verdict::Plausible);
    assert_eq!(entry.note, "points at the lesion");
    assert_eq!(entry.roi.as_ref(), Some(&roi));
    assert_eq!(entry.slice_index, shown);
    assert_eq!(entry.params.method, radlens::explain::Method::GradCam);
    drop(harness);

    // Reopened: the review, the ROI on its slice, and the note of the explanation come back.
    let mut harness = app_reviewing(Vec::new(), SIZE, reviews.path().to_owned());
    let review = harness.state().review.as_ref().unwrap();
    assert_eq!(review.review.entries, saved.entries);
    assert_eq!(harness.state().rois.rois(shown), [roi]);
    explain_with_panel(&mut harness);
    harness.run();
    assert_eq!(harness.state().metrics.note(0), "points at the lesion");
    harness.get_by_label("reviewed with ROI: rectangle 100x100 px");
}

#[test]
fn comparison_panel_reports_agreement_between_the_three_panes() {
    let mut harness = app(Vec::new());
    wait_for(&mut harness, 60, "demo model loads", |s| s.model.is_some());
    harness.key_press(Key::C);
    harness.key_press(Key::V);
    harness.run();
    wait_for(&mut harness, 120, "three panes explained", |s| {
        panes_explained(s, 3)
    });
    harness.run();
    for pair in ["1 vs 2", "1 vs 3", "2 vs 3"] {
        harness.get_by_label(pair);
    }
    let deadline = Instant::now() + Duration::from_mins(1);
    while harness.query_all_by_label("computing...").next().is_some() {
        assert!(Instant::now() < deadline, "agreement not computed");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Not a test of behaviour: renders the metrics panel in the comparison layout to
/// `$RADLENS_SCREENSHOT` for a person to look at. Ignored (reported as such) unless asked:
/// `RADLENS_SCREENSHOT=metrics.png cargo test --test gui -- --ignored screenshot`.
#[test]
#[ignore = "writes a screenshot for a person: set RADLENS_SCREENSHOT and pass --ignored"]
fn screenshot_of_the_metrics_panel_when_asked() {
    let out = std::env::var_os("RADLENS_SCREENSHOT")
        .expect("RADLENS_SCREENSHOT must name the PNG file to write");
    let mut harness = app_sized(Vec::new(), [1600.0, 1000.0]);
    wait_for_model(&mut harness);
    harness.state_mut().settings.show_tags = false;
    let shown = slice(&harness);
    harness.state_mut().rois.add(
        shown,
        radlens::review::Roi::Ellipse {
            center: [300.0, 250.0],
            radii: [40.0, 30.0],
        },
    );
    harness.key_press(Key::C);
    harness.key_press(Key::V);
    harness.run();
    wait_for(&mut harness, 120, "faithfulness of three panes", |s| {
        let (Some(study), Some(model)) = (s.study.as_ref(), s.model.as_ref()) else {
            return false;
        };
        (0..3).all(|p| {
            model
                .heatmap_for(p, &study.volume, study.view.slice)
                .is_some_and(|h| model.panes[p].faithfulness.result_for(h).is_some())
        })
    });
    harness.run();
    harness.render().unwrap().save(out).unwrap();
}

/// The export window with the DICOM result objects ticked, over a real CT with its SEG:
/// `RADLENS_SCREENSHOT=export.png cargo test --test gui -- --ignored screenshot_of_the_export`.
#[test]
#[ignore = "writes a screenshot for a person: set RADLENS_SCREENSHOT and pass --ignored"]
fn screenshot_of_the_export_window_when_asked() {
    let out = std::env::var_os("RADLENS_SCREENSHOT")
        .expect("RADLENS_SCREENSHOT must name the PNG file to write");
    let series = common::data("dicom/series/ct_3slice_with_seg");
    let mut harness = app_sized(vec![series], [1400.0, 900.0]);
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .open_model(radlens::app::demo_model().unwrap(), &ctx);
    wait_for_model(&mut harness);
    {
        let app = harness.state_mut();
        app.settings.show_tags = false;
        app.export.format = radlens::app::export::Format::Dicom;
        app.export.results.parametric_map = true;
        app.export.results.segmentation = true;
        app.export.results.report = true;
        app.export.open = true;
    }
    harness.run();
    harness.render().unwrap().save(out).unwrap();
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario: display 1:1, compare, export twice
fn export_matches_the_viewer_pixel_for_pixel_and_writes_png_and_dicom() {
    let out = tempfile::tempdir().unwrap();
    let mut harness = app(Vec::new());
    wait_for(&mut harness, 60, "demo model loads", |s| s.model.is_some());
    {
        let state = harness.state_mut();
        let study = state.study.as_ref().unwrap();
        let (volume, slice) = (Arc::clone(&study.volume), study.view.slice);
        state
            .model
            .as_mut()
            .unwrap()
            .explain(0, &volume, slice)
            .unwrap();
    }
    wait_for(&mut harness, 60, "Grad-CAM heatmap", |s| {
        heat_on_screen(s).is_some()
    });
    harness.run();

    // Show the slice 1:1 (one image pixel per screen pixel, on whole pixels), unsmoothed.
    harness.state_mut().settings.bilinear = false;
    let cols = harness.state().study.as_ref().unwrap().volume.shape[2] as f32;
    let width = harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .image_rect
        .unwrap()
        .width();
    harness.state_mut().study.as_mut().unwrap().view.zoom *= cols / width;
    harness.run();
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let shift = rect.min.round() - rect.min;
    harness.state_mut().study.as_mut().unwrap().view.pan += shift;
    harness.run();
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    assert!((rect.width() - cols).abs() < 0.01, "not 1:1: {rect:?}");
    let screen = harness.render().unwrap();

    let state = harness.state();
    let study = state.study.as_ref().unwrap();
    let slice = study.view.slice;
    let heatmap = heat_on_screen(state).unwrap();
    let display = state.export_display().unwrap();
    let expected = radlens::app::export::render(
        &study.volume,
        slice,
        study.masks[slice].as_deref(),
        Some(&heatmap),
        None,
        &display,
        radlens::export::Scale::Native,
        None,
    )
    .unwrap();
    let [rows, cols] = [study.volume.shape[1], study.volume.shape[2]];
    let expected_pixel = |r: usize, c: usize| {
        let [x0, y0] = expected.image_origin;
        let i = ((y0 + r) * expected.width + x0 + c) * 3;
        [expected.rgb[i], expected.rgb[i + 1], expected.rgb[i + 2]]
    };
    // The central part (the corners carry the viewer's text overlays).
    let (mut worst, mut off) = (0, 0);
    for r in rows / 5..rows * 4 / 5 {
        for c in cols / 5..cols * 4 / 5 {
            let p = screen.get_pixel(rect.min.x as u32 + c as u32, rect.min.y as u32 + r as u32);
            let e = expected_pixel(r, c);
            let d = (0..3).map(|k| p.0[k].abs_diff(e[k])).max().unwrap();
            worst = worst.max(d);
            off += usize::from(d > 1);
        }
    }
    assert!(
        worst <= 1,
        "export differs from the viewer by up to {worst} grey levels in {off} pixels"
    );

    // File → Export of the slice on screen as PNG: its slice region is that image, and the
    // reviewer's verdict on this explanation is in its legend (and sidecar).
    harness.state_mut().review.as_mut().unwrap().set_verdict(
        &heatmap,
        slice,
        None,
        radlens::review::Verdict::Plausible,
        "lesion outlined",
        None,
    );
    let png = out.path().join("slice.png");
    harness.state_mut().start_export(png.clone());
    wait_for(&mut harness, 60, "PNG export", |s| {
        s.model.as_ref().unwrap().export_result.is_some()
    });
    let result = harness
        .state()
        .model
        .as_ref()
        .unwrap()
        .export_result
        .clone();
    assert!(matches!(result, Some(Ok(_))), "{result:?}");
    let written = image::open(&png).unwrap().into_rgb8();
    let [x0, y0] = expected.image_origin;
    for r in (0..rows).step_by(7) {
        for c in (0..cols).step_by(7) {
            let p = written.get_pixel((x0 + c) as u32, (y0 + r) as u32).0;
            let e = expected_pixel(r, c);
            assert!(
                (0..3).all(|k| p[k].abs_diff(e[k]) <= 1),
                "PNG pixel {r},{c}"
            );
        }
    }
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("slice.png.json")).unwrap()).unwrap();
    assert_eq!(sidecar["verdict"], "plausible: lesion outlined");

    // All slices as DICOM Secondary Capture into a folder, de-identified.
    let folder = out.path().join("sc");
    std::fs::create_dir(&folder).unwrap();
    harness.state_mut().export.all_slices = true;
    harness.state_mut().export.format = radlens::app::export::Format::Dicom;
    harness.state_mut().start_export(folder.clone());
    wait_for(&mut harness, 120, "DICOM export", |s| {
        s.model.as_ref().unwrap().export.is_none()
    });
    let result = harness
        .state()
        .model
        .as_ref()
        .unwrap()
        .export_result
        .clone();
    assert!(
        matches!(&result, Some(Ok(m)) if m.contains("de-identified")),
        "{result:?}"
    );
    let (exported, _) = radlens::dicom::load(&[folder], None).unwrap();
    assert_eq!(exported.shape[0], 3);

    // The whole comparison layout: three panes side by side in one image, all in the sidecar.
    harness.state_mut().compare = Some(radlens::ui::compare::CompareLayout::default());
    harness.run();
    let layout = out.path().join("layout.png");
    let state = harness.state_mut();
    state.export.all_slices = false;
    state.export.format = radlens::app::export::Format::Png;
    state.export.whole_layout = true;
    state.start_export(layout.clone());
    wait_for(&mut harness, 120, "layout export", |s| {
        s.model.as_ref().unwrap().export.is_none()
    });
    let result = harness
        .state()
        .model
        .as_ref()
        .unwrap()
        .export_result
        .clone();
    assert!(matches!(result, Some(Ok(_))), "{result:?}");
    let single = image::image_dimensions(&png).unwrap();
    let triple = image::image_dimensions(&layout).unwrap();
    assert_eq!(triple, (single.0 * 3, single.1));
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("layout.png.json")).unwrap())
            .unwrap();
    let methods: Vec<&str> = sidecar["layout"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["explanation"]["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods.len(), 3, "{methods:?}");
}

#[test]
fn features_panel_shows_a_drawn_rois_features_and_explains_a_deep_unit() {
    // A real CT from the shared data (not the demo study), with the demo model loaded by hand.
    let series = common::data("dicom/series/ct_3slice_with_seg");
    let mut harness = app(vec![series]);
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .open_model(radlens::app::demo_model().unwrap(), &ctx);
    wait_for_model(&mut harness);
    let shown = slice(&harness);
    let roi = radlens::review::Roi::Ellipse {
        center: [256.0, 300.0],
        radii: [30.0, 20.0],
    };
    harness.state_mut().rois.add(shown, roi.clone());
    harness.key_press(Key::F);
    // One frame: the panel's spinner repaints until the features arrive (waited for below).
    harness.step();
    assert!(harness.state().features.open, "f opens the features panel");
    wait_for(&mut harness, 60, "handcrafted features", |s| {
        s.features.handcrafted().is_some()
    });
    harness.run();

    // The panel's first-order mean is the mean of the ROI's pixels on the slice.
    let state = harness.state();
    let volume = &state.study.as_ref().unwrap().volume;
    let [_, rows, cols] = volume.shape;
    let mask = roi.rasterise(rows, cols).unwrap();
    let mut values = vec![0.0_f32; rows * cols];
    volume.slice_f32_into(shown, &mut values);
    let inside: Vec<f64> = (0..mask.len())
        .filter(|&i| mask[i])
        .map(|i| f64::from(values[i]))
        .collect();
    let expected = inside.iter().sum::<f64>() / inside.len() as f64;
    let features = state.features.handcrafted().unwrap();
    let mean = features
        .features
        .iter()
        .find(|(n, _)| n == "original_firstorder_Mean")
        .unwrap()
        .1;
    assert!((mean - expected).abs() < 1e-6, "{mean} vs {expected}");
    assert!(features.features.len() > 90, "{}", features.features.len());
    harness.get_by_label(&format!(
        "Region: ellipse 60x40 px, {} pixels",
        inside.len()
    ));
    harness.get_by_label_contains("firstorder (");

    // Deep features arrive from the worker; picking unit 3 and explaining it shows three panes
    // whose heatmaps explain "feature 3".
    wait_for(&mut harness, 60, "deep features", |s| {
        s.features.deep().is_some()
    });
    let deep = harness.state().features.deep().unwrap();
    assert!(deep.iter().any(|(n, _)| n == "deep_mean_3"), "{deep:?}");
    harness.state_mut().features.selected = Some(3);
    harness.run();
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Explain unit 3")
        .click();
    harness.run();
    wait_for(&mut harness, 180, "three feature-unit panes", |s| {
        panes_explained(s, 3)
    });
    let state = harness.state();
    let study = state.study.as_ref().unwrap();
    let model = state.model.as_ref().unwrap();
    for pane in 0..3 {
        let heatmap = model
            .heatmap_for(pane, &study.volume, study.view.slice)
            .unwrap();
        assert_eq!(heatmap.provenance.target_name, "feature 3", "pane {pane}");
    }
}

/// Makes the phantom cohort through File > Open phantom cohort (demo), into `dir`, and waits
/// until the cohort view shows it.
fn open_phantom_cohort(harness: &mut Harness<'_, RadlensApp>, dir: &std::path::Path) {
    harness.state_mut().cohort.set_phantom_dir(dir.to_owned());
    harness.get_by_label("File").click();
    harness.run();
    harness.get_by_label("Open phantom cohort (demo)").click();
    harness.step();
    assert!(harness.state().cohort.open, "the cohort view opens");
    let deadline = Instant::now() + Duration::from_mins(15);
    while harness.state().cohort.table().is_none() {
        assert!(
            harness.state().cohort.error.is_none(),
            "{:?}",
            harness.state().cohort.error
        );
        assert!(Instant::now() < deadline, "phantom cohort not made in time");
        harness.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    harness.run();
}

/// A press and release at `pos`, as a mouse click.
fn click_at(harness: &mut Harness<'_, RadlensApp>, pos: Pos2) {
    harness.hover_at(pos);
    harness.run();
    harness.drag_at(pos);
    harness.step();
    harness.drop_at(pos);
    harness.run();
}

/// Clicks the matrix cell at display row `i`, column `j`.
fn click_cell(harness: &mut Harness<'_, RadlensApp>, i: usize, j: usize) {
    let matrix = harness.state().cohort.matrix().unwrap().clone();
    let rect = harness
        .get_by_label(radlens::ui::cohort::MATRIX_LABEL)
        .rect();
    let (rows, cols) = (matrix.row_names.len() as f32, matrix.col_names.len() as f32);
    let pos = rect.min
        + Vec2::new(
            (j as f32 + 0.5) * rect.width() / cols,
            (i as f32 + 0.5) * rect.height() / rows,
        );
    click_at(harness, pos);
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario: make, matrix, scatter, open a case, similar
fn phantom_cohort_opens_in_one_click_and_its_scatter_opens_a_case_with_similar_cases() {
    let mut harness = app_sized(Vec::new(), [1500.0, 950.0]);
    wait_for_model(&mut harness);
    let phantom = tempfile::tempdir().unwrap();
    open_phantom_cohort(&mut harness, phantom.path());
    let table = Arc::clone(harness.state().cohort.table().unwrap());
    assert_eq!(table.cases.len(), 60);
    assert!(table.stability.is_some() && table.signatures.is_some());
    harness.get_by_label_contains("60 cases (0 failed)");
    harness.get_by_label(radlens::ui::cohort::MATRIX_LABEL);
    harness.get_by_label_contains("Signatures");

    // The deep unit that tracks the true diameter best: its cell, then its scatter plot.
    let matrix = harness.state().cohort.matrix().unwrap().clone();
    let j = matrix
        .col_names
        .iter()
        .position(|c| c == "diameter_mm")
        .expect("the ground truth is a column");
    let cols = matrix.col_names.len();
    let i = (0..matrix.row_names.len())
        .max_by(|&a, &b| {
            let r = |i: usize| matrix.r[i * cols + j].map_or(0.0, f64::abs);
            r(a).total_cmp(&r(b))
        })
        .unwrap();
    let rho = matrix.r[i * cols + j].unwrap();
    assert!(rho.abs() > 0.3, "some deep unit tracks the diameter: {rho}");
    click_cell(&mut harness, i, j);
    assert_eq!(harness.state().cohort.selected(), Some((i, j)));
    harness.get_by_label_contains(&format!("{} (y) vs diameter_mm (x)", matrix.row_names[i]));
    let dots: Vec<(String, egui::Rect)> = harness
        .query_all_by_label_contains("case case_")
        .map(|n| (n.accesskit_node().label().unwrap_or_default(), n.rect()))
        .collect();
    let n = matrix.n[i * cols + j];
    assert_eq!(dots.len(), n, "one dot per case with both values");

    // The dot farthest from any other, so that the click cannot land on a neighbour.
    let (label, rect) = dots
        .iter()
        .max_by(|a, b| {
            let gap = |d: &(String, egui::Rect)| {
                dots.iter()
                    .filter(|o| o.0 != d.0)
                    .map(|o| o.1.center().distance(d.1.center()))
                    .fold(f32::INFINITY, f32::min)
            };
            gap(a).total_cmp(&gap(b))
        })
        .cloned()
        .unwrap();
    let id = label.strip_prefix("case ").unwrap().to_owned();
    let case = table.cases.iter().position(|c| c.id == id).unwrap();
    click_at(&mut harness, rect.center());
    assert_eq!(harness.state().cohort.opened_case(), Some(case));
    let opened = Ok(format!("{id} opened with its mask"));
    wait_for(&mut harness, 60, "the case and its mask", |s| {
        s.cohort.case_status() == Some(&opened)
    });
    assert_eq!(harness.state().cohort_case_on_screen(), Some(case));
    harness.run();
    // Its mask is the cases file's: as many voxels as `mask_voxels` says.
    let voxels: usize = table
        .case_columns
        .iter()
        .find(|c| c.name == "mask_voxels")
        .unwrap()
        .cells[case]
        .parse()
        .unwrap();
    let state = harness.state();
    let study = state.study.as_ref().unwrap();
    let shown: usize = study
        .masks
        .iter()
        .flatten()
        .map(|m| m.iter().filter(|&&v| v != 0).count())
        .sum();
    assert_eq!(shown, voxels);
    assert_eq!(state.rois.source, radlens::ui::roi::RoiSource::StudyMask);
    assert_eq!(
        study.volume.slices[0].path,
        table.cases[case].image.join("01.dcm")
    );

    // The features panel: its region is the case's mask; similar cases exclude the case. (k
    // closes the cohort view, which floats over the panel; its table stays open.)
    harness.key_press(Key::K);
    harness.run();
    assert!(!harness.state().cohort.open && harness.state().cohort.table().is_some());
    harness.key_press(Key::F);
    harness.step();
    wait_for(&mut harness, 120, "deep features of the case", |s| {
        s.features.deep().is_some()
    });
    harness.run();
    let similar: Vec<String> = harness
        .query_all_by_label_contains("similar case ")
        .filter_map(|n| n.accesskit_node().label())
        .collect();
    assert!(!similar.is_empty(), "similar cases are listed");
    assert!(
        !similar.contains(&radlens::ui::features::similar_label(&id)),
        "{similar:?} must not hold {id} itself"
    );
    // The case's own deep features equal its row of the table (same model, same input), so
    // its nearest neighbour in the whole cohort would be itself: excluded, the list holds
    // other cases only.
    let deep = harness.state().features.deep().unwrap();
    let own = radlens::features::analysis::case_features(&table, case);
    for (name, value) in own.iter().filter(|(n, _)| n.starts_with("deep_mean_")) {
        let panel = deep.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(
            (panel - value).abs() <= 1e-4 * value.abs().max(1.0),
            "{name}: panel {panel} vs table {value}"
        );
    }
    // Unstable features of the cohort are marked in the panel.
    let unstable_shown = harness.query_all_by_label("unstable").count();
    assert!(
        unstable_shown > 0,
        "the cohort's unstable features are marked"
    );

    // Beside: the first similar case in a window next to the study.
    harness.get_by_label(&similar[0]).click();
    harness.run();
    assert!(
        harness.state().cohort.beside.is_some(),
        "the click shows the case beside"
    );
    harness.run();
    harness.get_by_label_contains("Similar case: ");
}

#[test]
fn cohort_view_explains_bad_tables_and_cases_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let no_paths = write("no_paths.csv", "case,deep_mean_0\na,1\n");
    let text = write(
        "text.csv",
        "Image,Mask,original_firstorder_Mean,deep_mean_0\na,a.npy,high,1\n",
    );
    let missing = write(
        "missing.csv",
        "Image,Mask,case_id,original_firstorder_Mean,deep_mean_0\n\
         gone_a,gone_a.npy,a,1,1\ngone_b,gone_b.npy,b,2,3\ngone_c,gone_c.npy,c,3,2\n",
    );
    let mut harness = app(Vec::new());
    let ctx = harness.ctx.clone();
    let opened = |harness: &mut Harness<'_, RadlensApp>, path: &std::path::Path| {
        harness.state_mut().open_cohort(path.to_owned(), &ctx);
        wait_for(harness, 30, "the table read", |s| !s.cohort.is_busy());
        harness.run();
    };
    for (path, cause) in [(&no_paths, "Image"), (&text, "high")] {
        opened(&mut harness, path);
        let error = harness.state().cohort.error.clone().expect("an error");
        assert!(
            error.contains(cause) && error.contains(&path.display().to_string()),
            "{error}"
        );
        assert!(!error.contains('\n'), "one line: {error}");
        harness.get_by_label(&error);
    }
    // A case whose image is gone: the click says so in the view, nothing else changes.
    opened(&mut harness, &missing);
    assert!(harness.state().cohort.error.is_none());
    click_cell(&mut harness, 0, 0);
    harness.get_by_label("case b").click();
    harness.run();
    let status = harness.state().cohort.case_status().cloned().unwrap();
    let error = status.expect_err("the case cannot open");
    assert!(
        error.contains("not found") && error.contains("gone_b"),
        "{error}"
    );
    harness.get_by_label(&error);
    assert!(harness.state().study.is_some(), "the study on screen stays");
}

#[test]
#[ignore = "writes a screenshot for a person: set RADLENS_SCREENSHOT and pass --ignored"]
fn screenshot_of_the_cohort_view_when_asked() {
    let out = std::env::var_os("RADLENS_SCREENSHOT")
        .expect("RADLENS_SCREENSHOT must name the PNG file to write");
    let mut harness = app_sized(Vec::new(), [1600.0, 1000.0]);
    wait_for_model(&mut harness);
    harness.state_mut().settings.show_tags = false;
    let phantom = tempfile::tempdir().unwrap();
    open_phantom_cohort(&mut harness, phantom.path());
    // The deep unit most correlated with the lesion's contrast, and its scatter plot.
    let matrix = harness.state().cohort.matrix().unwrap().clone();
    let cols = matrix.col_names.len();
    let j = matrix
        .col_names
        .iter()
        .position(|c| c == "contrast_hu")
        .unwrap();
    let i = (0..matrix.row_names.len())
        .max_by(|&a, &b| {
            let r = |i: usize| matrix.r[i * cols + j].map_or(0.0, f64::abs);
            r(a).total_cmp(&r(b))
        })
        .unwrap();
    click_cell(&mut harness, i, j);
    harness.run();
    harness.render().unwrap().save(out).unwrap();
}

#[test]
fn the_transformer_demo_model_loads_from_the_menu_and_its_rollout_says_it_is_class_agnostic() {
    let mut harness = app(Vec::new());
    wait_for_model(&mut harness);
    harness.get_by_label("File").click();
    harness.run();
    harness.get_by_label("Load demo model").click();
    harness.run();
    harness.get_by_label("Transformer hybrid").click();
    harness.run();
    wait_for(&mut harness, 60, "the hybrid loads", |s| {
        s.model
            .as_ref()
            .is_some_and(|m| m.card.manifest.name.contains("hybrid") && m.prediction.is_some())
    });
    harness.run();
    harness.get_by_label_contains("transformer: features are tokens [N, 1+16x16, D]");
    harness.get_by_label_contains("attention rollout available");

    // Rollout in the single view: a map on screen, and the note beside it.
    harness.state_mut().model.as_mut().unwrap().panes[0]
        .choice
        .method = radlens::explain::Method::Rollout;
    harness.run();
    harness.key_press(Key::E);
    wait_for(&mut harness, 60, "rollout map", |s| {
        heat_on_screen(s).is_some_and(|h| h.provenance.method == radlens::explain::Method::Rollout)
    });
    harness.run();
    harness.get_by_label(radlens::ui::explanation::CLASS_AGNOSTIC);
    let heatmap = heat_on_screen(harness.state()).unwrap();
    assert_eq!(
        heatmap.provenance.parameters["token_layout"],
        "tokens [N, 1+16x16, D]"
    );

    // Grad-CAM on the tokens, then the class-agnostic note is gone.
    harness.state_mut().model.as_mut().unwrap().panes[0]
        .choice
        .method = radlens::explain::Method::GradCam;
    harness.run();
    harness.key_press(Key::E);
    wait_for(&mut harness, 60, "grad-cam map", |s| {
        heat_on_screen(s).is_some_and(|h| h.provenance.method == radlens::explain::Method::GradCam)
    });
    harness.run();
    assert!(
        harness
            .query_by_label(radlens::ui::explanation::CLASS_AGNOSTIC)
            .is_none()
    );
}

#[test]
fn a_cnn_and_the_transformer_explain_side_by_side_in_the_comparison() {
    let mut harness = app_sized(Vec::new(), [1400.0, 800.0]);
    wait_for_model(&mut harness);
    harness.state_mut().settings.show_tags = false;
    harness.get_by_label("File").click();
    harness.run();
    harness.get_by_label("Load demo model").click();
    harness.run();
    harness.get_by_label("Transformer hybrid beside").click();
    harness.step();
    let layout = harness.state().compare.expect("the comparison opens");
    assert!(layout.second_model && layout.panes == 2, "{layout:?}");
    // Pane 1: the CNN's Grad-CAM; pane 2: the transformer's, on the same slice.
    wait_for(&mut harness, 120, "both models' maps", |s| {
        let (Some(study), Some(first), Some(second)) =
            (s.study.as_ref(), s.model.as_ref(), s.second_model.as_ref())
        else {
            return false;
        };
        first
            .heatmap_for(0, &study.volume, study.view.slice)
            .is_some()
            && second
                .heatmap_for(0, &study.volume, study.view.slice)
                .is_some()
    });
    harness.run();
    let state = harness.state();
    let study = state.study.as_ref().unwrap();
    let slice = study.view.slice;
    let first = state
        .model
        .as_ref()
        .unwrap()
        .heatmap_for(0, &study.volume, slice)
        .unwrap();
    let second = state
        .second_model
        .as_ref()
        .unwrap()
        .heatmap_for(0, &study.volume, slice)
        .unwrap();
    assert_eq!(first.provenance.method, radlens::explain::Method::GradCam);
    assert_eq!(second.provenance.method, radlens::explain::Method::GradCam);
    assert!(
        first.provenance.model_name.contains("128x128")
            && !first.provenance.model_name.contains("hybrid")
    );
    assert!(second.provenance.model_name.contains("hybrid"));
    assert_eq!(
        second.provenance.parameters["token_layout"],
        "tokens [N, 1+16x16, D]"
    );
    if let Some(out) = std::env::var_os("RADLENS_SCREENSHOT_COMPARE") {
        harness.render().unwrap().save(out).unwrap();
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one user story: export, open back, review, restore
fn result_objects_export_from_the_viewer_and_open_back_over_the_series_and_the_review_restores() {
    let series = common::data("dicom/series/ct_3slice_with_seg");
    let reviews = tempfile::tempdir().unwrap();
    let mut harness = app_reviewing(vec![series], SIZE, reviews.path().to_owned());
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .open_model(radlens::app::demo_model().unwrap(), &ctx);
    wait_for_model(&mut harness);
    let shown = slice(&harness);
    {
        let app = harness.state_mut();
        let volume = Arc::clone(&app.study.as_ref().unwrap().volume);
        app.model
            .as_mut()
            .unwrap()
            .explain(0, &volume, shown)
            .unwrap();
    }
    wait_for(&mut harness, 60, "pane 1 explains the slice", |s| {
        let volume = &s.study.as_ref().unwrap().volume;
        s.model
            .as_ref()
            .unwrap()
            .heatmap_for(0, volume, shown)
            .is_some()
    });
    let export_done = |s: &RadlensApp| {
        s.model
            .as_ref()
            .is_some_and(|m| m.export.is_none() && m.export_result.is_some())
    };

    // File > Export with the three result objects: into a folder, beside the pictures.
    let out = tempfile::tempdir().unwrap();
    {
        let app = harness.state_mut();
        app.export.results.parametric_map = true;
        app.export.results.segmentation = true;
        app.export.results.report = true;
        app.start_export(out.path().to_owned());
    }
    wait_for(&mut harness, 120, "export with result objects", export_done);
    let summary = harness
        .state()
        .model
        .as_ref()
        .unwrap()
        .export_result
        .clone();
    assert!(
        matches!(&summary, Some(Ok(s)) if s.contains("de-identified")),
        "{summary:?}"
    );
    for file in [
        "heatmap_pm.dcm",
        "roi_seg.dcm",
        "report_sr.dcm",
        "export.json",
    ] {
        assert!(out.path().join(file).exists(), "{file} missing");
    }
    let computed = harness
        .state()
        .model
        .as_ref()
        .unwrap()
        .heatmap_for(0, &harness.state().study.as_ref().unwrap().volume, shown)
        .map(|h| h.values.clone())
        .expect("pane 1's own explanation");

    // Open them back: the map becomes pane 1's heatmap, the SEG the ROI.
    harness.state_mut().open_results(&[
        out.path().join("heatmap_pm.dcm"),
        out.path().join("roi_seg.dcm"),
    ]);
    assert_eq!(harness.state().error, None);
    harness.run();
    let state = harness.state();
    let study = state.study.as_ref().unwrap();
    let shown_map = state
        .model
        .as_ref()
        .unwrap()
        .heatmap_for(0, &study.volume, study.view.slice)
        .expect("pane 1 shows the opened map");
    assert_eq!(shown_map.provenance.method.name(), "gradcam");
    assert_eq!(study.view.slice, shown);
    assert_eq!(
        shown_map.values, computed,
        "the map's values are the viewer's own"
    );
    assert!(
        study.masks.iter().flatten().count() > 0,
        "the SEG is the ROI"
    );

    // Export the review as DICOM, then restore it into an emptied review.
    let heatmap = Arc::clone(shown_map);
    let slice_index = study.view.slice;
    {
        let app = harness.state_mut();
        let review = app.review.as_mut().expect("a review is open");
        review.set_verdict(
            &heatmap,
            slice_index,
            None,
            radlens::review::Verdict::Implausible,
            "attends to the table",
            None,
        );
        app.model.as_mut().unwrap().export_result = None;
    }
    let reviewed = tempfile::tempdir().unwrap();
    harness
        .state_mut()
        .start_review_export(reviewed.path().to_owned());
    wait_for(&mut harness, 120, "review export", export_done);
    let summary = harness
        .state()
        .model
        .as_ref()
        .unwrap()
        .export_result
        .clone();
    assert!(
        matches!(&summary, Some(Ok(s)) if s.contains("review entries")),
        "{summary:?}"
    );
    let entries = harness
        .state()
        .review
        .as_ref()
        .unwrap()
        .review
        .entries
        .clone();
    harness
        .state_mut()
        .review
        .as_mut()
        .unwrap()
        .review
        .entries
        .clear();
    harness
        .state_mut()
        .restore_review_from(&reviewed.path().join("report_sr.dcm"));
    assert_eq!(harness.state().error, None);
    assert_eq!(
        harness.state().review.as_ref().unwrap().review.entries,
        entries
    );
}

#[test]
fn pacs_window_searches_orthanc_opens_a_series_and_opens_it_again_from_the_cache() {
    use common::orthanc::{MR, Orthanc, series_files};
    let orthanc = Orthanc::start();
    orthanc.upload(&series_files(MR));
    let cache = tempfile::tempdir().unwrap();
    let mut harness = app(Vec::new());
    {
        let pacs = &mut harness.state_mut().pacs;
        pacs.open = true;
        pacs.server = orthanc.dicomweb();
        pacs.modality = "MR".to_owned();
        pacs.cache = Some(radlens::pacs::Cache {
            root: cache.path().to_owned(),
            cap_bytes: 1 << 30,
        });
    }
    harness.run();
    find_studies_and_list_the_mr_series(&mut harness);
    let studies = harness.state().pacs.studies.clone().unwrap().unwrap();
    assert_eq!(studies.len(), 1, "{studies:?}");
    harness.get_by_label("Open").click();
    harness.step();
    wait_for(&mut harness, 60, "the series is retrieved and shown", |s| {
        s.study
            .as_ref()
            .is_some_and(|st| st.volume.modality == "MR" && st.volume.shape[0] == 35)
            && s.is_idle()
    });
    let cached: Vec<_> = walkdir::WalkDir::new(cache.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "dcm"))
        .collect();
    assert_eq!(cached.len(), 35, "the series is in the cache");

    // Without the server, the cached series still opens.
    orthanc.stop();
    let ctx = harness.ctx.clone();
    harness.state_mut().open_demo(&ctx);
    wait_for(&mut harness, 30, "the demo is back", |s| {
        s.study
            .as_ref()
            .is_some_and(|st| st.volume.modality != "MR")
            && s.is_idle()
    });
    harness.run();
    harness.get_by_label("Open").click();
    harness.step();
    wait_for(&mut harness, 30, "the cached series opens offline", |s| {
        s.study
            .as_ref()
            .is_some_and(|st| st.volume.modality == "MR" && st.volume.shape[0] == 35)
            && s.is_idle()
    });
}

#[test]
fn an_export_is_sent_to_the_pacs_with_the_outcome_per_instance() {
    use common::orthanc::Orthanc;
    let orthanc = Orthanc::start();
    let mut harness = app(Vec::new());
    wait_for_model(&mut harness);
    let out = tempfile::tempdir().unwrap();
    {
        let app = harness.state_mut();
        app.pacs.server = orthanc.dicomweb();
        app.export.format = radlens::app::export::Format::Dicom;
        app.export.results.parametric_map = true;
        app.export.send_to_pacs = true;
        app.start_export(out.path().to_owned());
    }
    wait_for(&mut harness, 120, "export and send", |s| {
        s.pacs.stored.is_some() && !s.pacs.is_busy()
    });
    let stored = harness.state().pacs.stored.clone().unwrap().unwrap();
    assert_eq!(stored.len(), 2, "the SC and the Parametric Map: {stored:?}");
    assert!(stored.iter().all(|s| s.outcome.is_ok()), "{stored:?}");
    let client =
        radlens::pacs::connect(&radlens::pacs::Server::parse(&orthanc.dicomweb()).unwrap())
            .unwrap();
    let studies = client
        .find_studies(&radlens::pacs::Query::default())
        .unwrap();
    assert_eq!(studies.len(), 1, "{studies:?}");
    assert_eq!(studies[0].series, Some(2), "an SC series and a map series");
}

/// The PACS window after a search and a click on the study, against a local Orthanc:
/// `RADLENS_SCREENSHOT=pacs.png cargo test --test gui -- --ignored screenshot_of_the_pacs`.
#[test]
#[ignore = "writes a screenshot for a person: set RADLENS_SCREENSHOT and pass --ignored"]
fn screenshot_of_the_pacs_window_when_asked() {
    use common::orthanc::{MR, Orthanc, series_files};
    let out = std::env::var_os("RADLENS_SCREENSHOT")
        .expect("RADLENS_SCREENSHOT must name the PNG file to write");
    let orthanc = Orthanc::start();
    orthanc.upload(&series_files(MR));
    orthanc.upload(&[common::data("dicom/series/ct_3slice_with_seg/01.dcm")]);
    let mut harness = app_sized(Vec::new(), [1400.0, 900.0]);
    {
        let app = harness.state_mut();
        app.settings.show_tags = false;
        app.pacs.open = true;
        app.pacs.server = orthanc.dimse();
    }
    harness.run();
    find_studies_and_list_the_mr_series(&mut harness);
    harness.render().unwrap().save(out).unwrap();
}

/// In the PACS window: Find studies, then click the MR's study (patient crlab) for its series.
fn find_studies_and_list_the_mr_series(harness: &mut Harness<'_, RadlensApp>) {
    harness.get_by_label("Find studies").click();
    harness.step();
    wait_for(harness, 30, "the search answers", |s| {
        s.pacs.studies.is_some() && !s.pacs.is_busy()
    });
    harness.run();
    harness.get_by_label_contains("crlab").click();
    harness.step();
    wait_for(harness, 30, "the series are listed", |s| {
        s.pacs.series.is_some() && !s.pacs.is_busy()
    });
    harness.run();
}

/// The image rectangle of MPR plane `k` (0 acquired, 1 through a row, 2 through a column).
fn mpr_rect(harness: &Harness<'_, RadlensApp>, k: usize) -> egui::Rect {
    harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .mpr
        .as_ref()
        .unwrap()
        .rects[k]
        .unwrap_or_else(|| panic!("plane {k} was not drawn"))
}

#[test]
fn mpr_shows_three_planes_with_their_spacing_and_one_crosshair_links_them() {
    // The shared sagittal MR: 35 slices 4.4 mm apart (about), 1 mm pixels — a plane drawn with
    // square voxels would be four times too narrow.
    let mut harness = app(vec![common::data("dicom/series/mr_brain_t1_sag_35sl")]);
    harness.key_press(Key::X);
    harness.run();
    let (shape, spacing, geometry) = {
        let volume = &harness.state().study.as_ref().unwrap().volume;
        (volume.shape, volume.geometry.spacing_mm, volume.geometry)
    };
    let [slices, rows, cols] = shape.map(|n| n as f64);
    let [slice_mm, row_mm, col_mm] = spacing;
    assert!(
        (slice_mm / col_mm - 1.0).abs() > 0.5,
        "the test needs anisotropic voxels: {spacing:?}"
    );
    let aspect = |r: egui::Rect| f64::from(r.width() / r.height());
    // Acquired (sagittal): columns across, rows down. Axial cut through a row: patient
    // right-left across (the slices), anterior-posterior down (the columns). Coronal cut
    // through a column: right-left across (slices), superior-inferior down (rows).
    let expected = [
        (cols * col_mm) / (rows * row_mm),
        (slices * slice_mm) / (cols * col_mm),
        (slices * slice_mm) / (rows * row_mm),
    ];
    for (k, want) in expected.into_iter().enumerate() {
        let got = aspect(mpr_rect(&harness, k));
        assert!(
            (got / want - 1.0).abs() < 0.02,
            "plane {k}: aspect {got:.3}, spacing says {want:.3}"
        );
    }

    // A click in the acquired plane moves the crosshair: row and column follow, the slice stays.
    let acquired = mpr_rect(&harness, 0);
    let before = slice(&harness);
    click_at(
        &mut harness,
        acquired.min + Vec2::new(acquired.width() * 0.25, acquired.height() * 0.75),
    );
    let cursor = harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .mpr
        .as_ref()
        .unwrap()
        .cursor;
    assert_eq!(cursor[0], before);
    assert_eq!(cursor[1], (rows * 0.75) as usize, "{cursor:?}");
    assert_eq!(cursor[2], (cols * 0.25) as usize, "{cursor:?}");

    // A click in the coronal plane picks the slice: patient left is on the screen's right, so
    // a click further right lands on a slice further to the patient's left (LPS +x).
    let coronal = mpr_rect(&harness, 2);
    let patient_x = |harness: &Harness<'_, RadlensApp>| {
        geometry.patient_from_voxel([0.0, 0.0, slice(harness) as f64])[0]
    };
    click_at(
        &mut harness,
        coronal.min + Vec2::new(coronal.width() * 0.2, coronal.height() * 0.5),
    );
    let (left_click, slice_left) = (patient_x(&harness), slice(&harness));
    click_at(
        &mut harness,
        coronal.min + Vec2::new(coronal.width() * 0.8, coronal.height() * 0.5),
    );
    let (right_click, slice_right) = (patient_x(&harness), slice(&harness));
    assert_ne!(slice_left, slice_right);
    assert!(
        right_click > left_click,
        "patient x {left_click} (left click) vs {right_click} (right click)"
    );
    // The click also set the row: the superior-inferior middle of the coronal plane.
    let cursor = harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .mpr
        .as_ref()
        .unwrap()
        .cursor;
    assert_eq!(cursor[0], slice_right);
    assert!(cursor[1].abs_diff(shape[1] / 2) <= 1, "{cursor:?}");

    // The wheel over the axial plane steps its own position (the crosshair's row).
    let axial = mpr_rect(&harness, 1);
    harness.hover_at(axial.center());
    harness.run();
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: Vec2::new(0.0, -1.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    harness.run();
    let after = harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .mpr
        .as_ref()
        .unwrap()
        .cursor;
    assert_eq!(after[1], cursor[1] + 1, "{cursor:?} -> {after:?}");
    assert_eq!(after[0], cursor[0]);

    // x again: back to the single view.
    harness.key_press(Key::X);
    harness.run();
    assert!(harness.state().study.as_ref().unwrap().mpr.is_none());
}

/// The MPR layout of the shared sagittal MR and of the demo CT with its heat volume:
/// `RADLENS_SCREENSHOT=mpr.png cargo test --test gui -- --ignored screenshot_of_mpr` (the CT goes
/// to `mpr.png` with `-ct` before the extension).
#[test]
#[ignore = "writes a screenshot for a person: set RADLENS_SCREENSHOT and pass --ignored"]
fn screenshot_of_mpr_when_asked() {
    let out = PathBuf::from(
        std::env::var_os("RADLENS_SCREENSHOT")
            .expect("RADLENS_SCREENSHOT must name the PNG file to write"),
    );
    let ct = out.with_file_name(format!(
        "{}-ct.png",
        out.file_stem().unwrap().to_string_lossy()
    ));
    for (paths, path) in [
        (
            vec![common::data("dicom/series/mr_brain_t1_sag_35sl")],
            &out,
        ),
        (Vec::new(), &ct),
    ] {
        let demo = paths.is_empty();
        let mut harness = app_sized(paths, [1500.0, 700.0]);
        harness.state_mut().settings.show_tags = false;
        harness.key_press(Key::X);
        harness.run();
        if demo {
            // The demo with its model: the heat volume in all three planes, every value shown.
            wait_for_model(&mut harness);
            harness.state_mut().model.as_mut().unwrap().panes[0]
                .choice
                .threshold = 0.0;
            harness.get_by_label_contains("Explain the series").click();
            wait_for(&mut harness, 120, "the series is explained", |s| {
                s.model.as_ref().is_some_and(|m| m.series_result.is_some())
            });
            harness.run();
        }
        harness.render().unwrap().save(path).unwrap();
    }
}

#[test]
fn a_slow_load_shows_the_middle_slice_before_the_series_is_decoded() {
    let mut harness = app(Vec::new());
    // 35 slices at 60 ms each: the series takes about a second to decode on 2 cores.
    harness
        .state_mut()
        .set_decode_delay(Duration::from_millis(60));
    // The three-plane layout is on: it stays on for the next series.
    harness.key_press(Key::X);
    harness.run();
    let ctx = harness.ctx.clone();
    harness.state_mut().open(
        vec![common::data("dicom/series/mr_brain_t1_sag_35sl")],
        &ctx,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.state().preview.is_none() {
        assert!(
            Instant::now() < deadline,
            "no preview: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
    let (done, total) = harness.state().decoding().expect("still decoding");
    assert_eq!(total, 35);
    assert!(
        done < total,
        "decoded {done} of {total} before the preview showed"
    );
    harness.get_by_label_contains("the middle slice is shown meanwhile");
    let rect = harness
        .state()
        .preview
        .as_ref()
        .unwrap()
        .image_rect
        .unwrap();
    let shown = harness.render().unwrap();
    let bright = (rect.min.y as u32 + 5..rect.max.y as u32 - 5)
        .step_by(4)
        .flat_map(|y| {
            (rect.min.x as u32 + 5..rect.max.x as u32 - 5)
                .step_by(4)
                .map(move |x| (x, y))
        })
        .filter(|&(x, y)| shown.get_pixel(x, y).0[0] > 60)
        .count();
    assert!(
        bright > 100,
        "the preview shows no image ({bright} bright samples)"
    );
    let preview = Arc::clone(&harness.state().preview.as_ref().unwrap().slice);

    while harness
        .state()
        .study
        .as_ref()
        .is_none_or(|s| s.volume.shape[0] != 35)
    {
        assert!(Instant::now() < deadline, "the series did not load");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(harness.state().preview.is_none());
    let study = harness.state().study.as_ref().unwrap();
    assert_eq!(
        study.view.slice, 17,
        "the loaded series opens where the preview was"
    );
    assert!(study.mpr.is_some(), "MPR stays on for the new series");
    for (row, col) in [(128, 128), (60, 200), (200, 40)] {
        assert_eq!(
            preview.value(0, row, col),
            study.volume.value(17, row, col),
            "({row}, {col})"
        );
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario: explain, compare with one slice, see the planes
fn explain_the_series_stacks_every_slice_into_a_heat_volume_shown_in_all_three_planes() {
    // The 35-slice MR (the demo CT has 3 slices: its reformatted planes are a pixel thin), with
    // the demo model: what it predicts on an MR does not matter here, only what is stacked.
    let mut harness = app(vec![common::data("dicom/series/mr_brain_t1_sag_35sl")]);
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .open_model(radlens::app::demo_model().unwrap(), &ctx);
    wait_for_model(&mut harness);
    harness.key_press(Key::X);
    harness.run();
    // Every value shows (one colour range over the series: a weak slice may sit below 0.2).
    harness.state_mut().model.as_mut().unwrap().panes[0]
        .choice
        .threshold = 0.0;
    let coloured = |harness: &mut Harness<'_, RadlensApp>| -> [usize; 3] {
        let image = harness.render().unwrap();
        std::array::from_fn(|k| {
            let rect = mpr_rect(harness, k);
            (rect.min.y as u32..rect.max.y as u32)
                .flat_map(|y| (rect.min.x as u32..rect.max.x as u32).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let [r, g, b, _] = image.get_pixel(x, y).0;
                    r.abs_diff(g) > 40 || g.abs_diff(b) > 40
                })
                .count()
        })
    };
    harness.get_by_label_contains("Explain the series").click();
    harness.run();
    wait_for(&mut harness, 120, "the series is explained", |s| {
        let (Some(model), Some(study)) = (s.model.as_ref(), s.study.as_ref()) else {
            return false;
        };
        model.heat_volume(&study.volume).is_some() || matches!(model.series_result, Some(Err(_)))
    });
    harness.run();
    let (heat, volume) = {
        let state = harness.state();
        let study = state.study.as_ref().unwrap();
        let model = state.model.as_ref().unwrap();
        if let Some(Err(e)) = &model.series_result {
            panic!("the series explanation failed: {e}");
        }
        (
            Arc::clone(model.heat_volume(&study.volume).unwrap()),
            Arc::clone(&study.volume),
        )
    };
    assert_eq!(heat.heatmaps.len(), volume.shape[0]);
    harness.get_by_label_contains("heat volume:");

    // Each slice of the stack is that slice's own explanation: explain the slice on screen
    // the usual way (e) and compare.
    let shown = slice(&harness);
    harness.key_press(Key::E);
    wait_for(&mut harness, 120, "the slice is explained", |s| {
        let study = s.study.as_ref().unwrap();
        s.model
            .as_ref()
            .is_some_and(|m| m.heatmap_for(0, &study.volume, shown).is_some())
    });
    let single = {
        let state = harness.state();
        let study = state.study.as_ref().unwrap();
        Arc::clone(
            state
                .model
                .as_ref()
                .unwrap()
                .heatmap_for(0, &study.volume, shown)
                .unwrap(),
        )
    };
    assert_eq!(single.provenance.method, heat.method);
    assert_eq!(single.values, heat.heatmaps[shown].values);

    // All three planes show it: the crosshair on the hottest voxel, more coloured pixels with
    // the heat shown than with it hidden (h), in every plane.
    let (s_max, r_max, c_max) = {
        let mut best = (0, 0, 0, f32::NEG_INFINITY);
        for (s, map) in heat.heatmaps.iter().enumerate() {
            for (i, &v) in map.values.iter().enumerate() {
                if v > best.3 {
                    best = (s, i / map.cols, i % map.cols, v);
                }
            }
        }
        let map = &heat.heatmaps[best.0];
        let [_, rows, cols] = volume.shape;
        (
            best.0,
            (best.1 * rows + rows / 2) / map.rows,
            (best.2 * cols + cols / 2) / map.cols,
        )
    };
    {
        let study = harness.state_mut().study.as_mut().unwrap();
        study.view.slice = s_max;
        study.mpr.as_mut().unwrap().cursor = [s_max, r_max, c_max];
    }
    harness.run();
    let shown = coloured(&mut harness);
    harness.key_press(Key::H);
    harness.run();
    let hidden = coloured(&mut harness);
    for k in 0..3 {
        assert!(
            shown[k] > hidden[k] + 20,
            "plane {k} shows no heat: {} coloured pixels with it, {} without",
            shown[k],
            hidden[k]
        );
    }
}
